/**
 * Swapping stubs for real values in outgoing bytes: header values, URLs and streamed
 * text bodies. Bodies go through a Transform that never holds more than one chunk plus
 * the longest stub, so a stub split across chunk boundaries is still found and a large
 * upload is never buffered.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface Substitution {
  /** Env var name, for logs ("swapped LITELLM_API_KEY"); never the value. */
  name: string;
  stub: Buffer;
  real: Buffer;
}

/** Every stub starts with this; scanning for it first keeps the common no-stub case native-fast. */
const STUB_PREFIX = Buffer.from('stub_');

function longestStub(substitutions: readonly Substitution[]): number {
  return substitutions.reduce((max, s) => Math.max(max, s.stub.length), 0);
}

function matchAt(
  buffer: Buffer,
  index: number,
  substitutions: readonly Substitution[],
): Substitution | undefined {
  return substitutions.find(
    (s) =>
      index + s.stub.length <= buffer.length &&
      buffer.compare(s.stub, 0, s.stub.length, index, index + s.stub.length) === 0,
  );
}

/** Could the bytes from `index` to the end be the start of some stub (or of the prefix)? */
function isPartialStub(buffer: Buffer, index: number, substitutions: readonly Substitution[]): boolean {
  const tail = buffer.subarray(index);
  return substitutions.some(
    (s) => tail.length < s.stub.length && s.stub.subarray(0, tail.length).equals(tail),
  );
}

/**
 * Replaces every complete stub in `buffer`. Returns the output and how many bytes at the
 * end were held back because they may begin a stub continued in the next chunk
 * (`final` = no next chunk: hold nothing back).
 */
export function swapBuffer(
  buffer: Buffer,
  substitutions: readonly Substitution[],
  final: boolean,
): { output: Buffer; heldBack: Buffer; swapped: string[] } {
  const pieces: Buffer[] = [];
  const swapped: string[] = [];
  let start = 0;
  let cursor = 0;
  for (;;) {
    const index = buffer.indexOf(STUB_PREFIX, cursor);
    if (index === -1) break;
    const match = matchAt(buffer, index, substitutions);
    if (match) {
      pieces.push(buffer.subarray(start, index), match.real);
      swapped.push(match.name);
      start = cursor = index + match.stub.length;
    } else {
      cursor = index + 1;
    }
  }
  let end = buffer.length;
  if (!final) {
    // Hold back the shortest suffix that could still grow into a stub (or into "stub_").
    // Only a position holding the stub prefix's first byte can start one.
    const from = Math.max(start, buffer.length - longestStub(substitutions) + 1);
    for (let index = buffer.indexOf(STUB_PREFIX[0]!, from); index !== -1;) {
      if (isPartialStub(buffer, index, substitutions)) {
        end = index;
        break;
      }
      index = buffer.indexOf(STUB_PREFIX[0]!, index + 1);
    }
  }
  pieces.push(buffer.subarray(start, end));
  return {
    output: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces),
    heldBack: buffer.subarray(end),
    swapped,
  };
}

export function swapString(
  text: string,
  substitutions: readonly Substitution[],
): { text: string; swapped: string[] } {
  if (!text.includes('stub_')) return { text, swapped: [] };
  const result = swapBuffer(Buffer.from(text), substitutions, true);
  return { text: result.output.toString(), swapped: result.swapped };
}

/** A Transform swapping stubs in a byte stream; `swapped` names the credentials it swapped in. */
export class StubSwapStream extends Transform {
  readonly swapped = new Set<string>();
  private carry: Buffer = Buffer.alloc(0);

  constructor(private readonly substitutions: readonly Substitution[]) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const input = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const { output, heldBack, swapped } = swapBuffer(input, this.substitutions, false);
    for (const name of swapped) this.swapped.add(name);
    // Copy: heldBack is a view of `input`, which the caller may reuse.
    this.carry = Buffer.from(heldBack);
    if (output.length > 0) this.push(output);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const { output, swapped } = swapBuffer(this.carry, this.substitutions, true);
    for (const name of swapped) this.swapped.add(name);
    if (output.length > 0) this.push(output);
    callback();
  }
}
