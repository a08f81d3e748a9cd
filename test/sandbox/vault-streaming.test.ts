/**
 * Streaming through the vault process (sandbox/vault/src/main.ts and its relay): a 50 MB
 * download (re-stubbed on the way) and a 20 MB text upload with stubs of a body-bound value
 * in it pass through without the vault's memory growing with the body, and stubs straddling
 * chunk boundaries are still swapped.
 * The swap itself, read by read, is unit-tested in sandbox/vault/relay/swap_test.go.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ProxyAgent, request } from 'undici';
import { spawnVaultProcess, type VaultProcess } from './support/processes';
import { createTestPki, type TestPki } from './support/tls';
import { pushVaultSecrets } from './support/vault';

jest.setTimeout(120_000);

const MB = 1024 * 1024;
const REAL_KEY = 'sk-real-streaming-key-31337';
/** A value whose binding allows body swapping (the upload test's stub). */
const BODY_VALUE = 'real-body-bound-value-31337';

let pki: TestPki;
let vault: VaultProcess;
let server: https.Server;
let serverPort: number;
let dispatcher: ProxyAgent;
let stub: string;
const received = { bytes: 0, hash: '' };
/** Bytes of the download the upstream has handed to its socket so far. */
let downloadSent = 0;
let markFirstEventSeen: () => void;
const firstEventSeen = new Promise<void>((resolve) => (markFirstEventSeen = resolve));

/** Peak resident memory of the vault: its Node process and the relay child that carries the bytes. */
function peakRssMb(vaultPid: number): number {
  const children = fs.readFileSync(`/proc/${vaultPid}/task/${vaultPid}/children`, 'utf8').trim().split(/\s+/);
  expect(children).toHaveLength(1);
  return [vaultPid, Number(children[0])].reduce((total, pid) => {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return total + Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }, 0);
}

beforeAll(async () => {
  pki = createTestPki();
  server = https.createServer(pki.upstreamServerCert, (req, res) => {
    if (req.url === '/events') {
      // A slow stream: the second event waits until the test has seen the first.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      void firstEventSeen.then(() => res.end('data: two\n\n'));
      return;
    }
    if (req.url === '/download') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(50 * MB) });
      const block = Buffer.alloc(64 * 1024, 7);
      downloadSent = 0;
      const pump = () => {
        while (downloadSent < 50 * MB) {
          downloadSent += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      received.bytes = bytes;
      received.hash = hash.digest('hex');
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverPort = (server.address() as AddressInfo).port;

  vault = await spawnVaultProcess(pki, pki.dir, {
    REAL_LITELLM_API_KEY: REAL_KEY,
    HOST_LITELLM_API_KEY: 'localhost',
  });
  const pushed = await pushVaultSecrets(pki, vault.adminPort, {
    secrets: { BODY_KEY: { value: BODY_VALUE, hosts: ['localhost'], body: true } },
  });
  stub = (pushed.body as { stubs: Record<string, string> }).stubs.BODY_KEY!;
  dispatcher = new ProxyAgent({
    uri: vault.proxyUrl,
    requestTls: { ca: pki.deploymentCa.certPem },
  });
});

afterAll(async () => {
  // destroy, not close: a failed test may leave a response unread, which close would await.
  await dispatcher?.destroy();
  await vault?.process.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

it('streams a 50 MB download with backpressure instead of buffering it', async () => {
  const response = await request(`https://localhost:${serverPort}/download`, { dispatcher });
  expect(response.statusCode).toBe(200);
  // The client does not read for a while: a buffering vault would pull all 50 MB from the
  // upstream meanwhile; a streaming one stops it once the socket buffers of both hops are
  // full (the kernel's, a few MB each; the relay itself holds at most a few hundred KB).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const sentWhilePaused = downloadSent;
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(downloadSent).toBe(sentWhilePaused);
  expect(sentWhilePaused).toBeLessThan(25 * MB);
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Buffer).length;
  expect(bytes).toBe(50 * MB);
});

it('swaps stubs across chunk boundaries in a 20 MB streamed text upload', async () => {
  // Lines of varying length so the stub lands at every offset relative to the chunks.
  const line = (index: number) => `{"i":${index},"key":"${stub}","pad":"${'p'.repeat(index % 97)}"}\n`;
  const expectedHash = createHash('sha256');
  let expectedBytes = 0;
  const lines: string[] = [];
  for (let index = 0; expectedBytes < 20 * MB; index += 1) {
    const real = line(index).replace(stub, BODY_VALUE);
    expectedHash.update(real);
    expectedBytes += Buffer.byteLength(real);
    lines.push(line(index));
  }
  async function* body() {
    const text = lines.join('');
    for (let offset = 0; offset < text.length; offset += 16_381)
      yield Buffer.from(text.slice(offset, offset + 16_381));
  }
  const before = peakRssMb(vault.process.child.pid!);
  const response = await request(`https://localhost:${serverPort}/upload`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/x-ndjson' },
    body: Readable.from(body()),
  });
  await response.body.text();
  expect(received.bytes).toBe(expectedBytes);
  expect(received.hash).toBe(expectedHash.digest('hex'));
  expect(peakRssMb(vault.process.child.pid!) - before).toBeLessThan(25);
});

it('passes each server-sent event on at once, not when the stream ends', async () => {
  const response = await request(`https://localhost:${serverPort}/events`, { dispatcher });
  const chunks: string[] = [];
  for await (const chunk of response.body) {
    chunks.push((chunk as Buffer).toString());
    // The upstream sends the rest only after this: had the vault held the first event back,
    // waiting for more, this loop would never get here.
    if (chunks.length === 1) markFirstEventSeen();
  }
  expect(chunks[0]).toBe('data: one\n\n');
  expect(chunks.join('')).toBe('data: one\n\ndata: two\n\n');
});

describe('the relay process and its control plane', () => {
  function relayPidOf(vaultPid: number): number {
    const children = fs.readFileSync(`/proc/${vaultPid}/task/${vaultPid}/children`, 'utf8').trim();
    return Number(children.split(/\s+/)[0]);
  }

  /** Gone, or a zombie left for whoever reaps orphans. */
  async function waitUntilExited(pid: number): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      let state = 'gone';
      try {
        state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!;
      } catch {
        // gone
      }
      if (state === 'gone' || state === 'Z') return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`process ${pid} is still running`);
  }

  it('the relay exits when the vault process is killed (no orphan proxy)', async () => {
    const own = await spawnVaultProcess(pki, fs.mkdtempSync(`${pki.dir}/killed-`), {});
    const relayPid = relayPidOf(own.process.child.pid!);
    process.kill(own.process.child.pid!, 'SIGKILL');
    await waitUntilExited(relayPid);
  });

  it('the vault exits, saying why, when its relay dies', async () => {
    const own = await spawnVaultProcess(pki, fs.mkdtempSync(`${pki.dir}/relay-died-`), {});
    const exited = new Promise<number | null>((resolve) => own.process.child.once('exit', resolve));
    process.kill(relayPidOf(own.process.child.pid!), 'SIGKILL');
    await own.process.waitForLog((line) => line.event === 'vault_relay_exited');
    expect(await exited).toBe(1);
  });
});
