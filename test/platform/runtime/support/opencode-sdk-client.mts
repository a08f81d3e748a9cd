/**
 * The published opencode client (`@opencode-ai/sdk`, ESM only, so run by tsx outside
 * Jest) driving a LAP session's opencode server through the platform's passthrough.
 * Usage: opencode-sdk-client.mts <baseUrl of .../sessions/{id}/opencode> <master key>.
 * Prints one JSON line with what it saw.
 */
import { createOpencodeClient } from '@opencode-ai/sdk';

const [baseUrl, key] = process.argv.slice(2);
const client = createOpencodeClient({ baseUrl, headers: { authorization: `Bearer ${key}` } });

const step = (what: string) => process.stderr.write(`${what}\n`);
const events = await client.event.subscribe();
step('subscribed');
const created = await client.session.create({ body: { title: 'through LAP' } });
const id = created.data!.id;
step(`created ${id}`);
const reply = await client.session.prompt({
  path: { id },
  body: { parts: [{ type: 'text', text: 'hello opencode' }] },
});
const text = (reply.data?.parts ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('');
// The event stream is live through the passthrough (SSE not buffered): its first event arrives while it stays open.
let firstEvent = '';
const deadline = setTimeout(() => process.exit(2), 30_000);
for await (const event of events.stream) {
  firstEvent = event.type;
  break;
}
clearTimeout(deadline);
const history = await client.session.messages({ path: { id } });
const roles = (history.data ?? []).map((m) => m.info.role);
const listed = (await client.session.list()).data?.some((s) => s.id === id) ?? false;
console.log(JSON.stringify({ id, text, firstEvent, roles, listed }));
process.exit(0);
