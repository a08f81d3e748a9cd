import { z } from 'zod';

// PostgreSQL text and jsonb cannot hold U+0000; rejecting it here turns what would
// be a database error (a 500) into a clear 400.
// Lone UTF-16 surrogates (valid in JSON text) are rejected too: jsonb refuses them
// and text columns would silently store U+FFFD instead.
const NO_NUL = (s: string) => !s.includes('\u0000');
// (String.prototype.isWellFormed is ES2024, beyond this project's lib setting.)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the string can be encoded as UTF-8 as it is. */
export function isWellFormedUnicode(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** The string with each lone surrogate replaced by U+FFFD. */
export function replaceLoneSurrogates(s: string): string {
  return s.replace(LONE_SURROGATES, '\uFFFD');
}

/** A string of 0..max characters that PostgreSQL can store as given. */
export function storableText(max: number) {
  return z
    .string()
    .max(max, `at most ${max} characters`)
    .refine(NO_NUL, 'must not contain NUL characters')
    .refine(isWellFormedUnicode, 'must be valid Unicode (no lone surrogates)');
}

/** A non-empty (after trimming) string of at most max characters. */
export function requiredText(max: number) {
  return storableText(max).refine((s) => s.trim().length > 0, 'must not be empty');
}

/** An http(s) URL. */
export function httpUrl(max = 2048) {
  return storableText(max).refine((s) => {
    try {
      const url = new URL(s);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');
}
