/**
 * Agents already rendered to JSON, keyed by id and valid for one row version (which
 * every change moves: see ROW_VERSION in db/agents.ts). The agent list is the
 * hottest route: a page not in RenderedPageCache (below) costs one narrow query (ids,
 * versions, total) and one buffer copy, instead of reading and serializing 50 full
 * rows (entries are kept UTF-8 encoded, so a page is never re-encoded on the way
 * out). Safe with several web processes: each keeps its own caches and the versions
 * come from the database on every request, so nothing stale is ever served.
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

/**
 * Whole list pages already rendered, for one version of the agent list (see
 * getAgentListVersion): while no agent changes, a page costs one single-row read and
 * no rendering at all. A new version drops every page at once; pages are keyed by
 * their query (sort, order, limit, offset, search). Only for orders that depend on
 * the agents table alone: the `sessions` sort moves without any agent changing.
 */
export class RenderedPageCache {
  private version: string | undefined;
  private readonly pages = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  get(version: string, key: string): Buffer | undefined {
    return version === this.version ? this.pages.get(key) : undefined;
  }

  set(version: string, key: string, page: Buffer): void {
    if (version !== this.version) {
      // Versions only grow: a page rendered at an older one (a request that read the
      // version before a concurrent change) is kept out rather than replacing newer pages.
      if (this.version !== undefined && BigInt(version) < BigInt(this.version)) return;
      this.version = version;
      this.pages.clear();
      this.bytes = 0;
    }
    if (page.length > this.maxBytes || this.pages.has(key)) return;
    while (this.bytes + page.length > this.maxBytes) {
      // Map iteration is insertion order: drop the oldest pages first.
      const [oldestKey, oldest] = this.pages.entries().next().value!;
      this.pages.delete(oldestKey);
      this.bytes -= oldest.length;
    }
    this.pages.set(key, page);
    this.bytes += page.length;
  }
}
