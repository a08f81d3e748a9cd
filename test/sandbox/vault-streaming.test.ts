/**
 * Streaming through the vault process (sandbox/vault/src/main.ts): a 50 MB download and a
 * 20 MB text upload with stubs in it pass through without the vault's memory growing
 * with the body, and stubs straddling chunk boundaries are still swapped.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ProxyAgent, request } from 'undici';
import { StubSwapStream, swapBuffer } from '@lap/vault/src/stub-swap';
import { spawnVaultProcess, type VaultProcess } from './support/processes';
import { createTestPki, type TestPki } from './support/tls';
import { pushVaultSecrets } from './support/vault';

jest.setTimeout(120_000);

const MB = 1024 * 1024;
const REAL_KEY = 'sk-real-streaming-key-31337';

let pki: TestPki;
let vault: VaultProcess;
let server: https.Server;
let serverPort: number;
let dispatcher: ProxyAgent;
let stub: string;
const received = { bytes: 0, hash: '' };
/** Bytes of the download the upstream has handed to its socket so far. */
let downloadSent = 0;

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

beforeAll(async () => {
  pki = createTestPki();
  server = https.createServer(pki.upstreamServerCert, (req, res) => {
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
  const pushed = await pushVaultSecrets(pki, vault.adminPort, { secrets: {} });
  stub = (pushed.body as { stubs: Record<string, string> }).stubs.LITELLM_API_KEY!;
  dispatcher = new ProxyAgent({
    uri: vault.proxyUrl,
    requestTls: { ca: pki.deploymentCa.certPem },
  });
});

afterAll(async () => {
  await dispatcher?.close();
  await vault?.process.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

it('streams a 50 MB download with backpressure instead of buffering it', async () => {
  const response = await request(`https://localhost:${serverPort}/download`, { dispatcher });
  expect(response.statusCode).toBe(200);
  // The client does not read for a while: a buffering vault would pull all 50 MB from the
  // upstream meanwhile; a streaming one stops after a few socket buffers.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const sentWhilePaused = downloadSent;
  expect(sentWhilePaused).toBeLessThan(10 * MB);
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
    const real = line(index).replace(stub, REAL_KEY);
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

describe('StubSwapStream', () => {
  const substitutions = [
    { name: 'A', stub: Buffer.from('stub_a_0123456789abcdef'), real: Buffer.from('REAL-A') },
    { name: 'B', stub: Buffer.from('stub_b_fedcba9876543210'), real: Buffer.from('REAL-B-LONGER-VALUE') },
  ];

  async function swapInChunks(text: string, size: number): Promise<string> {
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < text.length; offset += size)
      chunks.push(Buffer.from(text.slice(offset, offset + size)));
    const stream = Readable.from(chunks).pipe(new StubSwapStream(substitutions));
    const out: Buffer[] = [];
    for await (const chunk of stream) out.push(chunk as Buffer);
    return Buffer.concat(out).toString();
  }

  it.each([1, 2, 3, 5, 7, 22, 23, 24, 1000])('swaps every stub with %i-byte chunks', async (size) => {
    const input =
      'stub_stub_a_0123456789abcdef|stub_b_fedcba9876543210 stub_a_01234 stub_b_fedcba9876543210stub_';
    const expected = 'stub_REAL-A|REAL-B-LONGER-VALUE stub_a_01234 REAL-B-LONGER-VALUEstub_';
    expect(await swapInChunks(input, size)).toBe(expected);
  });

  it('leaves text without stubs byte-identical and reports what it swapped', () => {
    const text = Buffer.from('nothing to see, not even stu');
    expect(swapBuffer(text, substitutions, true)).toMatchObject({ output: text, swapped: [] });
    expect(swapBuffer(Buffer.from('x stub_a_0123456789abcdef'), substitutions, true).swapped).toEqual(['A']);
  });
});
