/** One cache for Python and Node: what one downloads, the other finds, byte for byte, without a request. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadModel } from '../../lib/hub';
import { startMockHub, type MockHub } from '../helpers/mock-hub';
import { requirePython } from '../helpers/python';
import { TINY, TINY_FILES } from './repos';

/** hf_hub_download for each file; prints {file: path}. */
const SCRIPT = `
import json, sys
from huggingface_hub import hf_hub_download
repo, local_only, files = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
print(json.dumps({f: hf_hub_download(repo, f, local_files_only=local_only) for f in files}))
`;

function python(py: string, env: Record<string, string>, args: string[]): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    // Not spawnSync: the mock hub answering Python lives in this process's event loop.
    const child = spawn(py, ['-c', SCRIPT, ...args], { env: { ...process.env, HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_XET: '1', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, string>) : reject(new Error(`python exited ${code}: ${err}`))));
  });
}

describe('hub/cache shared with Python huggingface_hub', function () {
  this.timeout(120_000);
  let py: string;
  let hub: MockHub;
  let cacheDir: string;
  before(async function () {
    py = requirePython(this, ['huggingface_hub']);
    hub = await startMockHub({ repos: { 'org/tiny': TINY } });
  });
  after(() => hub?.close());
  beforeEach(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'hub-py-'));
    hub.requests.length = 0;
  });
  afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

  it("finds a Node download with hf_hub_download(local_files_only=True)", async () => {
    const snap = await downloadModel('org/tiny', { endpoint: hub.endpoint, cacheDir, token: false, offline: false });
    const found = await python(py, { HF_HUB_CACHE: cacheDir, HF_ENDPOINT: 'http://127.0.0.1:9' }, ['org/tiny', '1', ...TINY_FILES]);
    for (const f of TINY_FILES) assert.equal(found[f], join(snap.dir, f), f);
  });

  it('uses a Python download offline, without a request', async () => {
    const fetched = await python(py, { HF_HUB_CACHE: cacheDir, HF_ENDPOINT: hub.endpoint }, ['org/tiny', '0', ...TINY_FILES]);
    assert.ok(hub.requests.some((r) => r.path.startsWith('/cdn/')), 'Python fetched LFS files from the CDN');
    const seen = hub.requests.length;
    const snap = await downloadModel('org/tiny', { endpoint: hub.endpoint, cacheDir, token: false, offline: true });
    assert.equal(hub.requests.length, seen);
    assert.deepEqual(snap.files, TINY_FILES);
    for (const f of TINY_FILES) {
      assert.equal(join(snap.dir, f), fetched[f]);
      assert.deepEqual(readFileSync(realpathSync(join(snap.dir, f))), Buffer.from(TINY.files![f]!));
    }
  });
});
