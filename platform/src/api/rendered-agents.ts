/**
 * Agents already rendered to JSON, keyed by id and valid for one version (the row's
 * updated_at, which every change moves: see touchAgent). The agent list is the
 * hottest route: with this cache a page costs one narrow query (ids, versions,
 * total) and one buffer copy, instead of reading and serializing 50 full rows (entries
 * are kept UTF-8 encoded, so a page is never re-encoded on the way out). Safe
 * with several web processes: each keeps its own cache and the version comes from
 * the database on every request, so nothing stale is ever served.
 */
export class RenderedAgentCache {
  private readonly entries = new Map<string, { version: string; json: Buffer }>();

  constructor(
    private readonly maxEntries = 20_000,
    /** Agents with large sandbox files are not worth keeping in memory. */
    private readonly maxJsonLength = 64 * 1024,
  ) {}

  get(id: string, version: string): Buffer | undefined {
    const entry = this.entries.get(id);
    return entry && entry.version === version ? entry.json : undefined;
  }

  set(id: string, version: string, json: Buffer): void {
    this.entries.delete(id);
    if (json.length > this.maxJsonLength) return;
    if (this.entries.size >= this.maxEntries) {
      // Map iteration is insertion order: the first key is the least recently rendered.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, { version, json });
  }

  get size(): number {
    return this.entries.size;
  }
}
