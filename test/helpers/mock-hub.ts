/**
 * A local stand-in for the Hugging Face hub: a real HTTP server on 127.0.0.1 (a free port) that serves folders (or
 * in-memory files) as model repos in the hub's URL layout, with the hub's headers, so that our downloader and
 * Python's huggingface_hub both talk to it (HF_ENDPOINT=hub.endpoint).
 *
 *   const hub = await startMockHub({ repos: { 'org/tiny': { dir: 'test/fixtures/hf/tiny' } } });
 *   await downloadModel('org/tiny', { endpoint: hub.endpoint, cacheDir });
 *   hub.requests            // every request seen: method, path, host, range, authorization
 *   hub.fault('model.safetensors', 'truncate', { bytes: 1000 })   // the next body of that file breaks
 *   await hub.close();
 *
 * What it does as the hub does:
 * - `GET /api/models/{repo}/revision/{rev}` → `{ id, sha, siblings: [{ rfilename }] }`.
 * - `HEAD|GET /{repo}/resolve/{rev}/{path}`: small files answer 200 with `ETag: "<git blob sha1>"`; LFS files (weights,
 *   ARPA, anything ≥ 10 KB) answer 302 to `http://localhost:{port}/cdn/{sha256}` (another host name, so a client
 *   must drop the token) with `X-Linked-Etag: "<sha256>"` and `X-Linked-Size`. Both carry `X-Repo-Commit`.
 * - `Range: bytes=N-` answered 206 with Content-Range.
 * - Errors with `X-Error-Code`: RepoNotFound (401 without a token, 404 with one, as the hub answers), RevisionNotFound,
 *   EntryNotFound; a `private` repo wants `Authorization: Bearer {hub.token}` (another token: 401).
 * - `renamed: { 'old/name': 'org/name' }`: requests for the old name answer 307 with a relative Location.
 * Every revision name in `revisions` (and `main`, and the commit) points at the repo's one commit.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, relative, sep } from 'node:path';

export interface MockRepoSpec {
  /** A folder whose files (recursively) are the repo, read once at start. */
  dir?: string;
  /** Files by repo path (added to, or overriding, those of `dir`). */
  files?: Record<string, string | Buffer>;
  /** Needs the hub's token. */
  private?: boolean;
  /** Branch or tag names besides `main`. */
  revisions?: string[];
}

export interface MockHubOptions {
  repos: Record<string, MockRepoSpec>;
  /** Old name → current name. */
  renamed?: Record<string, string>;
  /** The one token the hub accepts (default `hf_mock_token`). */
  token?: string;
}

export interface MockRequest {
  method: string;
  /** The URL path, decoded. */
  path: string;
  /** `127.0.0.1:PORT` for the hub, `localhost:PORT` for the CDN. */
  host: string;
  range?: string;
  authorization?: string;
}

export type MockFault = 'truncate' | 'corrupt' | 'hang';

export interface MockHub {
  /** `http://127.0.0.1:PORT`: HF_ENDPOINT. */
  endpoint: string;
  token: string;
  requests: MockRequest[];
  /** The commit every revision of `repo` resolves to. */
  commit(repo: string): string;
  /**
   * The next `times` (default 1) bodies of `file` (a repo path, any repo) go wrong: 'truncate' announces the full
   * Content-Length, sends `bytes` (default half) and destroys the socket; 'corrupt' flips a byte; 'hang' never answers (not even headers).
   */
  fault(file: string, kind: MockFault, opts?: { bytes?: number; times?: number }): void;
  /** Sends bodies in 16 KiB pieces `ms` apart (for overlapping downloads). */
  throttle(ms: number): void;
  close(): Promise<void>;
}

interface RepoFile {
  data: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

interface Repo {
  files: Map<string, RepoFile>;
  commit: string;
  private: boolean;
  revisions: Set<string>;
}

const LFS_MIN = 10 * 1024;
const LFS_EXT = /\.(safetensors|bin|msgpack|h5|onnx|arpa|pt|ckpt)$/;

function filesOf(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[relative(dir, full).split(sep).join('/')] = readFileSync(full);
  }
  return out;
}

function buildRepo(name: string, spec: MockRepoSpec): Repo {
  const all = { ...(spec.dir ? filesOf(spec.dir) : {}), ...spec.files };
  const files = new Map<string, RepoFile>();
  const commit = createHash('sha1').update(name);
  for (const [path, content] of Object.entries(all).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const gitOid = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    files.set(path, { data, lfs: data.length >= LFS_MIN || LFS_EXT.test(path), sha256, gitOid });
    commit.update(`${path}\0${sha256}\n`);
  }
  return { files, commit: commit.digest('hex'), private: spec.private === true, revisions: new Set(['main', ...(spec.revisions ?? [])]) };
}

export async function startMockHub(o: MockHubOptions): Promise<MockHub> {
  const token = o.token ?? 'hf_mock_token';
  const repos = new Map(Object.entries(o.repos).map(([name, spec]) => [name, buildRepo(name, spec)]));
  const byHash = new Map<string, { path: string; file: RepoFile }>();
  for (const repo of repos.values()) for (const [path, file] of repo.files) byHash.set(file.sha256, { path, file });
  const faults = new Map<string, { kind: MockFault; bytes?: number; times: number }>();
  const requests: MockRequest[] = [];
  const sockets = new Set<Socket>();
  let throttleMs = 0;
  let port = 0;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    requests.push({ method: req.method ?? '', path, host: req.headers.host ?? '',
      ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (req.headers.host?.startsWith('localhost:') && path.startsWith('/cdn/')) {
      const hit = byHash.get(path.slice(5));
      if (!hit) return error(res, 404, 'EntryNotFound', 'no such object');
      return body(req, res, hit.path, hit.file.data, { ETag: `"${hit.file.sha256}"` });
    }
    route(req, res, path);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function error(res: ServerResponse, status: number, code: string | null, message: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...(code ? { 'X-Error-Code': code } : {}), 'X-Error-Message': message, ...extra });
    res.end(JSON.stringify({ error: message }));
  }

  /** The repo a request may see, or null once it has answered an error (or a rename redirect). */
  function access(req: IncomingMessage, res: ServerResponse, name: string, rest: string): Repo | null {
    const target = o.renamed?.[name];
    if (target) {
      res.writeHead(307, { Location: rest.replace(`/${name}/`, `/${target}/`) });
      res.end();
      return null;
    }
    const auth = req.headers.authorization;
    const repo = repos.get(name);
    if (auth && auth !== `Bearer ${token}`) {
      error(res, 401, null, 'Invalid credentials in Authorization header');
      return null;
    }
    if (!repo || (repo.private && !auth)) {
      error(res, auth ? 404 : 401, 'RepoNotFound', 'Repository Not Found');
      return null;
    }
    return repo;
  }

  function revisionOk(res: ServerResponse, repo: Repo, rev: string): boolean {
    if (repo.revisions.has(rev) || rev === repo.commit) return true;
    error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    return false;
  }

  function route(req: IncomingMessage, res: ServerResponse, path: string): void {
    const parts = path.split('/').slice(1);
    if (parts[0] === 'api' && parts[1] === 'models') {
      const at = parts.indexOf('revision');
      const name = parts.slice(2, at < 0 ? undefined : at).join('/');
      const repo = access(req, res, name, path);
      if (!repo) return;
      const rev = at < 0 ? 'main' : parts.slice(at + 1).join('/');
      if (!revisionOk(res, repo, rev)) return;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: name, sha: repo.commit, siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) }));
      return;
    }
    const at = parts.indexOf('resolve');
    if (at < 1 || at > 2) return error(res, 404, null, 'Not Found');
    const name = parts.slice(0, at).join('/');
    const repo = access(req, res, name, path);
    if (!repo) return;
    const rev = parts[at + 1] ?? '';
    if (!revisionOk(res, repo, rev)) return;
    const filePath = parts.slice(at + 2).join('/');
    const file = repo.files.get(filePath);
    const commitHeader = { 'X-Repo-Commit': repo.commit };
    if (!file) return error(res, 404, 'EntryNotFound', `${filePath} does not exist on "${rev}"`, commitHeader);
    if (file.lfs) {
      res.writeHead(302, { ...commitHeader, Location: `http://localhost:${port}/cdn/${file.sha256}`, ETag: `"${file.gitOid}"`,
        'X-Linked-Etag': `"${file.sha256}"`, 'X-Linked-Size': String(file.data.length) });
      res.end();
      return;
    }
    body(req, res, filePath, file.data, { ...commitHeader, ETag: `"${file.gitOid}"` });
  }

  /** A file's body (or head), with Range and the faults armed for it. */
  function body(req: IncomingMessage, res: ServerResponse, path: string, data: Buffer, headers: Record<string, string>): void {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start > data.length || (m && start === data.length)) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
      res.end();
      return;
    }
    const fault = req.method === 'HEAD' ? undefined : faults.get(path);
    if (fault && --fault.times <= 0) faults.delete(path);
    if (fault?.kind === 'hang') return; // no answer at all: a silent server
    let chunk = data.subarray(start);
    res.writeHead(m ? 206 : 200, { ...headers, 'Accept-Ranges': 'bytes', 'Content-Length': String(chunk.length),
      ...(m ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}) });
    if (req.method === 'HEAD') return void res.end();
    if (fault) {
      if (fault.kind === 'corrupt') {
        chunk = Buffer.from(chunk);
        chunk[chunk.length >> 1] ^= 0xff;
      } else {
        res.write(chunk.subarray(0, fault.bytes ?? chunk.length >> 1), () => res.socket?.destroy());
        return;
      }
    }
    void send(res, chunk);
  }

  async function send(res: ServerResponse, chunk: Buffer): Promise<void> {
    if (throttleMs === 0) return void res.end(chunk);
    for (let i = 0; i < chunk.length && !res.destroyed; i += 16384) {
      res.write(chunk.subarray(i, i + 16384));
      await new Promise((resolve) => setTimeout(resolve, throttleMs));
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    token,
    requests,
    commit: (name) => repos.get(name)!.commit,
    fault(file, kind, opts = {}) {
      faults.set(file, { kind, times: opts.times ?? 1, ...(opts.bytes !== undefined ? { bytes: opts.bytes } : {}) });
    },
    throttle(ms) {
      throttleMs = ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
