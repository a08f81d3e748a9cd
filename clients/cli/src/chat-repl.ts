import type { Session } from '@litellm/agent-sdk';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from './cli-error.js';

const HELP = 'Chat mode — Ctrl-D to end the session, /quit to leave it running, /id, /stream on|off';
/** Events that arrive this soon after the stream opens are history being replayed, not this turn. */
const REPLAY_SETTLE_MS = 150;
/** How long to wait for the stream's `turn_done` after the synchronous reply arrived. */
const STREAM_DRAIN_MS = 3_000;

/** The line-based REPL for API harnesses (opencode, claude-agent-sdk). */
export async function runChatRepl(session: Session, options: { firstPrompt?: string } = {}): Promise<void> {
  let streaming = false;
  let lastEventId: string | undefined;
  let inFlight: AbortController | undefined;
  let leaveRunning = false;
  let sessionGone = false;

  const turn = async (text: string) => {
    inFlight = new AbortController();
    try {
      if (streaming) lastEventId = await streamedTurn(session, text, inFlight.signal, lastEventId);
      else printReply((await session.send(text, { signal: inFlight.signal })).text);
    } catch (error) {
      if (inFlight.signal.aborted) {
        console.log('(turn cancelled)');
        return;
      }
      console.error(`error: ${describeError(error)}`);
      await session.refresh().catch(() => undefined);
      if (session.status !== 'ready') {
        console.error(
          `session ${session.id} is ${session.status}${session.failureReason ? `: ${session.failureReason}` : ''}`,
        );
        sessionGone = true;
      }
    } finally {
      inFlight = undefined;
    }
  };

  console.log(HELP);
  if (options.firstPrompt) {
    console.log(`> ${options.firstPrompt}`);
    await turn(options.firstPrompt);
  }
  if (sessionGone) return;

  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
  rl.on('SIGINT', () => {
    if (inFlight) inFlight.abort();
    else {
      process.stdout.write('\n(Ctrl-D ends the session, /quit leaves it running)\n');
      rl.prompt();
    }
  });
  rl.prompt();
  for await (const line of rl) {
    const input = line.trim();
    if (input === '/quit') {
      leaveRunning = true;
      break;
    } else if (input === '/id') {
      console.log(session.id);
    } else if (input === '/stream on' || input === '/stream off') {
      streaming = input === '/stream on';
      console.log(streaming ? 'streaming on (tokens as they arrive)' : 'streaming off (blocking send)');
    } else if (input.startsWith('/')) {
      console.log(`unknown command ${input}. ${HELP}`);
    } else if (input) {
      await turn(input);
      if (sessionGone) break;
    }
    rl.prompt();
  }
  rl.close();

  if (sessionGone) return;
  if (leaveRunning) {
    console.log(`session ${session.id} left running: \`lap sessions attach ${session.id}\` to come back`);
    return;
  }
  process.stdout.write('\n');
  await session.stop();
  console.log(`✓ session ${session.id} stopped`);
}

/** Prints tokens as the session's event stream delivers them; returns the last event id seen. */
async function streamedTurn(
  session: Session,
  text: string,
  signal: AbortSignal,
  lastEventId: string | undefined,
): Promise<string | undefined> {
  const stream = new AbortController();
  const stopStream = () => stream.abort();
  signal.addEventListener('abort', stopStream, { once: true });
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  let sent = false;
  let printed = false;
  const reader = (async () => {
    for await (const event of session.events({ signal: stream.signal, lastEventId, onOpen: opened })) {
      if (event.id !== undefined) lastEventId = event.id;
      if (!sent) continue;
      if (event.type === 'token') {
        process.stdout.write(event.text);
        printed = true;
      } else if (event.type === 'tool_call') {
        process.stdout.write(`${printed ? '\n' : ''}[tool ${event.name}]\n`);
      } else if (event.type === 'turn_done') {
        return;
      } else if (event.type === 'error') {
        process.stdout.write(`\n[error ${event.message}]\n`);
      }
    }
  })().catch(() => undefined);
  try {
    await Promise.race([open, sleep(5_000)]);
    await sleep(REPLAY_SETTLE_MS);
    sent = true;
    const reply = await session.send(text, { signal });
    await Promise.race([reader, sleep(STREAM_DRAIN_MS)]);
    if (printed) process.stdout.write('\n');
    else printReply(reply.text);
  } finally {
    signal.removeEventListener('abort', stopStream);
    stream.abort();
  }
  return lastEventId;
}

function printReply(text: string): void {
  console.log(text || '(no text in the reply)');
}
