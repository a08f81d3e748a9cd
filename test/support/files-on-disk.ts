import fs from 'node:fs';
import path from 'node:path';

/** Every regular file under `dir` (none when it is gone; a folder removed meanwhile is skipped). */
export function filesUnder(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []; // a temporary directory went
    throw error;
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

/** The files under `dirs` whose bytes contain `needle` (a file gone between listing and reading is skipped). */
export function filesContaining(dirs: string[], needle: string): string[] {
  const bytes = Buffer.from(needle, 'utf8');
  return dirs.flatMap(filesUnder).filter((file) => {
    try {
      return fs.readFileSync(file).includes(bytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  });
}
