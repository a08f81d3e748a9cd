/**
 * What the rehearsal checks from inside a running sandbox's harness container, as the agent
 * (the image's user) would act there:
 *
 *   - egress: every way out around the vault fails. A direct connection to the LLM gateway's
 *     name (what `curl --noproxy '*'` does), a direct connection to the services' network (the
 *     database and the account's endpoints), and CONNECT requests to the egress gateway without
 *     the vault's token and with a forged one. Any connection that gets through fails the
 *     rehearsal.
 *   - init: PID 1 is the init process of initProcessEnabled, and a process orphaned in the
 *     container is reaped (with Node as PID 1 it would stay a zombie).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Podman } from './podman';

export interface EscapeTargets {
  /** The LLM gateway's name (resolves to the internet stand-in in the sandbox's hosts). */
  gatewayHost: string;
  /** An address and port of the services' network (the database's). */
  servicesAddress: string;
  servicesPort: number;
  /** The egress gateway as the vault dials it, and the name on its certificate. */
  egressHost: string;
  egressPort: number;
  egressServerName: string;
  /** The address the gateway would be asked to CONNECT to (the LLM gateway's). */
  destination: string;
  sandboxId: string;
  /** The deployment CA the harness trusts (NODE_EXTRA_CA_CERTS), to speak TLS to the gateway. */
  caFile: string;
}

export interface EscapeAttempt {
  attempt: string;
  outcome: string;
  /** True when the attempt reached its destination: the sandbox is not sealed. */
  escaped: boolean;
}

// Runs in the harness container (node -e, argv: the JSON of EscapeTargets). One line of JSON out.
const PROBES = `
const net = require('node:net'), tls = require('node:tls'), fs = require('node:fs');
const t = JSON.parse(process.argv[1]);
const settle = (socket, ok) => new Promise((resolve) => {
  const timer = setTimeout(() => (socket.destroy(), resolve({ outcome: 'timed out', escaped: false })), 5000);
  socket.once(ok, () => (clearTimeout(timer), socket.destroy(), resolve({ outcome: 'connected', escaped: true })));
  socket.once('error', (e) => (clearTimeout(timer), resolve({ outcome: e.code || e.message, escaped: false })));
});
const connectThrough = (authorization) => new Promise((resolve) => {
  const socket = tls.connect({ host: t.egressHost, port: t.egressPort, servername: t.egressServerName,
    ca: fs.readFileSync(t.caFile) });
  const timer = setTimeout(() => (socket.destroy(), resolve({ outcome: 'timed out', escaped: false })), 5000);
  socket.once('error', (e) => (clearTimeout(timer), resolve({ outcome: e.code || e.message, escaped: false })));
  socket.once('secureConnect', () => socket.write('CONNECT ' + t.destination + ':443 HTTP/1.1\\r\\nHost: ' +
    t.destination + ':443\\r\\n' + (authorization ? 'Proxy-Authorization: ' + authorization + '\\r\\n' : '') + '\\r\\n'));
  let answer = '';
  socket.on('data', (chunk) => {
    answer += chunk;
    if (!answer.includes('\\r\\n')) return;
    clearTimeout(timer);
    socket.destroy();
    const status = answer.split('\\r\\n')[0];
    resolve({ outcome: status, escaped: / 200 /.test(status + ' ') });
  });
});
(async () => {
  const attempts = [
    ['TLS to ' + t.gatewayHost + ':443, no proxy (curl --noproxy)',
      () => settle(tls.connect({ host: t.gatewayHost, port: 443, servername: t.gatewayHost, rejectUnauthorized: false }), 'secureConnect')],
    ['TCP to the services network ' + t.servicesAddress + ':' + t.servicesPort + ' (database)',
      () => settle(net.connect(t.servicesPort, t.servicesAddress), 'connect')],
    ['CONNECT ' + t.destination + ':443 through the egress gateway, no token', () => connectThrough(null)],
    ['CONNECT ' + t.destination + ':443 through the egress gateway, forged token',
      () => connectThrough('Bearer ' + t.sandboxId + '.' + '0'.repeat(64))],
  ];
  const results = [];
  for (const [attempt, run] of attempts) results.push({ attempt, ...(await run()) });
  console.log(JSON.stringify(results));
})();
`;

export async function tryToLeave(
  podman: Podman,
  container: string,
  targets: EscapeTargets,
): Promise<EscapeAttempt[]> {
  const out = await podman.run(['exec', container, 'node', '-e', PROBES, JSON.stringify(targets)]);
  return JSON.parse(out.split('\n').pop()!) as EscapeAttempt[];
}

const ZOMBIES = `
const fs = require('node:fs');
let zombies = 0;
for (const pid of fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d))) {
  try { if (/^State:\\s+Z/m.test(fs.readFileSync('/proc/' + pid + '/status', 'utf8'))) zombies++; } catch {}
}
console.log(zombies);
`;

/** PID 1's command line, and the zombies left 2 s after a process was orphaned in the container. */
export async function checkInit(
  podman: Podman,
  container: string,
): Promise<{ pid1: string; zombies: number }> {
  const pid1 = (await podman.run(['exec', container, 'cat', '/proc/1/cmdline'])).split('\0')[0];
  // `sleep` outlives its shell: orphaned, it is re-parented to PID 1, which must reap it.
  await podman.run(['exec', container, 'sh', '-c', 'sleep 1 & exit 0']);
  await sleep(2500);
  const zombies = Number(await podman.run(['exec', container, 'node', '-e', ZOMBIES]));
  return { pid1, zombies };
}
