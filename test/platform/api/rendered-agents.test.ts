import { RenderedAgentCache, RenderedPageCache } from '../../../platform/src/api/rendered-agents';

const page = (text: string) => Buffer.from(text);

describe('RenderedPageCache', () => {
  test('a page is served only for the version and query it was rendered for', () => {
    const cache = new RenderedPageCache();
    cache.set('7', 'created_at|desc|50|0|', page('p7'));
    expect(cache.get('7', 'created_at|desc|50|0|')?.toString()).toBe('p7');
    expect(cache.get('7', 'created_at|desc|50|50|')).toBeUndefined();
    expect(cache.get('8', 'created_at|desc|50|0|')).toBeUndefined();
  });

  test('a newer version drops every page; a page rendered at an older version is not kept', () => {
    const cache = new RenderedPageCache();
    cache.set('7', 'a', page('a7'));
    cache.set('7', 'b', page('b7'));
    cache.set('8', 'a', page('a8'));
    expect(cache.get('7', 'b')).toBeUndefined();
    expect(cache.get('8', 'b')).toBeUndefined();
    // A request that read version 7 before a change finishes late: it must not evict version 8.
    cache.set('7', 'b', page('b7-late'));
    expect(cache.get('8', 'a')?.toString()).toBe('a8');
    expect(cache.get('7', 'b')).toBeUndefined();
    // Versions compare as numbers, not strings.
    cache.set('10', 'a', page('a10'));
    expect(cache.get('10', 'a')?.toString()).toBe('a10');
  });

  test('stays within its byte budget, dropping the oldest pages first', () => {
    const cache = new RenderedPageCache(10);
    cache.set('1', 'a', page('aaaa'));
    cache.set('1', 'b', page('bbbb'));
    cache.set('1', 'c', page('cccc'));
    expect(cache.get('1', 'a')).toBeUndefined();
    expect(cache.get('1', 'b')?.toString()).toBe('bbbb');
    expect(cache.get('1', 'c')?.toString()).toBe('cccc');
    cache.set('1', 'huge', page('x'.repeat(11)));
    expect(cache.get('1', 'huge')).toBeUndefined();
    expect(cache.get('1', 'c')?.toString()).toBe('cccc');
  });
});

describe('RenderedAgentCache', () => {
  test('an agent is served only at the version it was rendered at; the oldest entry goes first', () => {
    const cache = new RenderedAgentCache(2);
    cache.set('a', 'v1', page('a1'));
    expect(cache.get('a', 'v1')?.toString()).toBe('a1');
    expect(cache.get('a', 'v2')).toBeUndefined();
    cache.set('b', 'v1', page('b1'));
    cache.set('c', 'v1', page('c1'));
    expect(cache.size).toBe(2);
    expect(cache.get('a', 'v1')).toBeUndefined();
  });
});
