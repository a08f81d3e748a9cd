import { storableText } from './text';

// scp-like git syntax: git@github.com:org/repo.git
const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$/;

function isGitUrl(value: string): boolean {
  if (SCP_LIKE.test(value)) return true;
  try {
    const url = new URL(value);
    return (
      ['http:', 'https:', 'ssh:', 'git+ssh:'].includes(url.protocol) &&
      url.hostname !== '' &&
      url.pathname.length > 1
    );
  } catch {
    return false;
  }
}

/** The repository a sandbox clones: http(s), ssh:// or git@host:path. */
export const repoUrlSchema = storableText(2048).refine(
  isGitUrl,
  'must be a git URL (https://host/org/repo, ssh://git@host/org/repo or git@host:org/repo)',
);
