/**
 * A git smart-HTTP server (git http-backend as CGI) over HTTPS that requires
 * `Authorization: Basic` with the real token as password, like a git host does.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface GitServer {
  url: string;
  authorizations: string[];
  close(): Promise<void>;
}

/** Creates a bare repo at `<dir>/repo.git` with one commit on `branch` holding `files`. */
export function createBareRepo(dir: string, branch: string, files: Record<string, string>): string {
  const work = path.join(dir, 'work');
  fs.mkdirSync(work, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: work,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
      },
    });
  git('init', '-q', '-b', branch);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(work, name), content);
  git('add', '.');
  git('commit', '-q', '-m', 'initial');
  const bare = path.join(dir, 'repo.git');
  execFileSync('git', ['clone', '-q', '--bare', work, bare]);
  return bare;
}

export async function startGitServer(
  projectRoot: string,
  tls: { cert: string; key: string },
  requiredToken: string,
  host = '127.0.0.2',
): Promise<GitServer> {
  const backend = path.join(execFileSync('git', ['--exec-path']).toString().trim(), 'git-http-backend');
  const authorizations: string[] = [];
  const server = https.createServer(tls, (req, res) => {
    const authorization = req.headers.authorization ?? '';
    authorizations.push(authorization);
    const password = Buffer.from(authorization.replace(/^Basic /i, ''), 'base64')
      .toString()
      .split(':')[1];
    if (password !== requiredToken) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('unauthorized');
      req.resume();
      return;
    }
    const url = new URL(req.url!, 'https://git');
    const cgi = spawn(backend, [], {
      env: {
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method!,
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: 'git',
        PATH: process.env.PATH!,
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const [name, ...rest] = line.split(':');
        if (name!.toLowerCase() === 'status') status = Number(rest.join(':').trim().split(' ')[0]);
        else headers[name!] = rest.join(':').trim();
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `https://${host}:${(server.address() as AddressInfo).port}`,
    authorizations,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
