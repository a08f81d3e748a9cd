import {
  createClaudeStream,
  foldSdkMessages,
  type ClaudeStreamHandle,
  type ConnectionOptions,
  type FoldedMessage,
  type Session,
} from '@litellm/agent-sdk';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from './cli-error.js';

const HELP = 'Chat mode — Ctrl-D to end the session, /quit to leave it running, /id, /stream on|off';
/** How long a streamed turn waits for the stream to open before sending anyway. */
const STREAM_OPEN_MS = 5_000;
/** How long to wait for the stream to end after the synchronous reply arrived. */
const STREAM_DRAIN_MS = 3_000;

/** The line-based REPL for API harnesses (opencode, claude-agent-sdk). */
export async function runChatRepl(
  connection: ConnectionOptions,
  session: Session,
  options: { firstPrompt?: string } = {},
): Promise<void> {
  let streaming = false;
  let inFlight: AbortController | undefined;
  let leaveRunning = false;
  let sessionGone = false;

  const turn = async (text: string) => {
    inFlight = new AbortController();
    try {
      if (streaming) await streamedTurn(connection, session, text, inFlight.signal);
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
      console.log(streaming ? 'streaming on (text as it arrives)' : 'streaming off (blocking send)');
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

/**
 * One turn with its output streamed (`/stream on`): follows the session's live stream
 * (`createClaudeStream`, GET /sessions/:id/stream) from before the message is sent and
 * prints the assistant's text as it grows. The synchronous reply still arrives; it is
 * printed instead when the stream carried no text (a stream that opened after the turn).
 */
async function streamedTurn(
  connection: ConnectionOptions,
  session: Session,
  text: string,
  signal: AbortSignal,
): Promise<void> {
  const stream = createClaudeStream({ ...connection, sessionId: session.id, signal });
  const printer = new StreamPrinter();
  const unsubscribe = stream.subscribe((state) => printer.show(foldSdkMessages(state.messages)));
  try {
    await Promise.race([stream.done(), sleep(STREAM_OPEN_MS), untilOpened(stream)]);
    const reply = await session.send(text, { signal });
    await Promise.race([stream.done(), sleep(STREAM_DRAIN_MS)]);
    if (printer.printed) process.stdout.write('\n');
    else printReply(reply.text);
  } finally {
    unsubscribe();
    stream.abort();
  }
}

/** Resolves once the stream is open (or over). */
function untilOpened(stream: ClaudeStreamHandle): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = stream.subscribe((state) => {
      if (state.status === 'connecting') return;
      queueMicrotask(() => unsubscribe());
      resolve();
    });
  });
}

/** Prints what is new in the folded assistant messages: text as it grows, one line per tool call. */
class StreamPrinter {
  printed = false;
  private readonly shown = new Map<string, number>();

  show(messages: FoldedMessage[]): void {
    messages.forEach((message, index) => {
      if (message.type !== 'assistant') return;
      message.message.content.forEach((block, position) => {
        const key = `${index}:${position}`;
        if (block.type === 'text' && typeof block.text === 'string') {
          const already = this.shown.get(key) ?? 0;
          if (block.text.length > already) {
            process.stdout.write(block.text.slice(already));
            this.shown.set(key, block.text.length);
            this.printed = true;
          }
        } else if (block.type === 'tool_use' && !this.shown.has(key)) {
          process.stdout.write(`${this.printed ? '\n' : ''}[tool ${String(block.name)}]\n`);
          this.shown.set(key, 1);
        }
      });
    });
  }
}

function printReply(text: string): void {
  console.log(text || '(no text in the reply)');
}
