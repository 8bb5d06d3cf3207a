import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockHub, type MockHub } from '../helpers/mock-hub';
import { bytes, sha256 } from './repos';

const DOWNLOADER = join(__dirname, '..', 'helpers', 'hub-downloader.ts');

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', DOWNLOADER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

describe('hub/concurrent downloads', function () {
  this.timeout(120_000);
  const weights = bytes(1_000_000, 'race');
  let hub: MockHub;
  let cacheDir: string;
  before(async () => {
    hub = await startMockHub({ repos: { 'org/race': { files: { 'config.json': '{}', 'model.safetensors': weights } } } });
    cacheDir = mkdtempSync(join(tmpdir(), 'hub-race-'));
  });
  after(async () => {
    await hub.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('two processes fetching one repo at once end with one good blob, fetched once', async () => {
    hub.throttle(10); // ~0.6 s per download: the two overlap
    const at = String(Date.now() + 4000); // both started (tsx takes a moment) before the race begins
    const outs = await Promise.all([run([hub.endpoint, cacheDir, 'org/race', at]), run([hub.endpoint, cacheDir, 'org/race', at])]);
    const snaps = outs.map((o) => JSON.parse(o) as { dir: string });
    assert.equal(snaps[0]!.dir, snaps[1]!.dir);
    assert.deepEqual(readFileSync(join(snaps[0]!.dir, 'model.safetensors')), weights);
    const repo = join(cacheDir, 'models--org--race');
    assert.deepEqual(readdirSync(join(repo, 'blobs')).filter((f) => f.startsWith(sha256(weights))), [sha256(weights)]);
    // Both asked for the metadata; the second waited on the lock and found the blob there.
    assert.equal(hub.requests.filter((r) => r.method === 'HEAD' && r.path.endsWith('model.safetensors')).length, 2);
    assert.equal(hub.requests.filter((r) => r.method === 'GET' && r.path === `/cdn/${sha256(weights)}`).length, 1);
    assert.deepEqual(readdirSync(join(cacheDir, '.locks', 'models--org--race')), [], 'locks released');
  });
});
