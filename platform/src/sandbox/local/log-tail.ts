import fs from 'node:fs';

const MAX_TAIL_BYTES = 256 * 1024;

/** The last `limit` lines of a log file, newest last; [] when there is no file. */
export async function readLogTail(file: string, limit: number): Promise<string[]> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, MAX_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    if (length < size) lines.shift(); // a partial first line
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-limit);
  } finally {
    await handle.close();
  }
}
