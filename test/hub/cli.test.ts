import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { downloadBar } from '../../lib/cli/download';
import { runCliAsync } from '../helpers/cli';
import { startMockHub, type MockHub } from '../helpers/mock-hub';
import { TINY } from './repos';

const cli = runCliAsync;

describe('cli download', function () {
  this.timeout(120_000);
  let hub: MockHub;
  let cacheDir: string;
  before(async () => {
    hub = await startMockHub({ repos: { 'org/tiny': TINY } });
  });
  after(() => hub.close());
  beforeEach(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'hub-cli-'));
  });
  afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('fetches into --cache-dir and prints the snapshot folder; no bar when stderr is not a terminal', async () => {
    const r = await cli(['download', 'org/tiny@v1', '--cache-dir', cacheDir, '--endpoint', hub.endpoint]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const dir = join(cacheDir, 'models--org--tiny', 'snapshots', hub.commit('org/tiny'));
    assert.equal(r.stdout, `${dir}\n`);
    assert.deepEqual(readFileSync(join(dir, 'model.safetensors')), TINY.files!['model.safetensors']);
  });

  it('takes HF_ENDPOINT and HF_HUB_CACHE, and --revision', async () => {
    const r = await cli(['download', 'org/tiny', '--revision', 'v1'], { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cacheDir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(cacheDir, 'models--org--tiny', 'refs', 'v1'), 'utf8'), hub.commit('org/tiny'));
  });

  it('mistakes are one line with their code: a bad id, an unknown repo (exit 1), a bad --endpoint (exit 2)', async () => {
    const bad = await cli(['download', 'org/a--b', '--cache-dir', cacheDir, '--endpoint', hub.endpoint]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^wav2vec2: Repo id "org\/a--b": '--' and '\.\.' are not allowed.* \[HUB_INVALID_ID\]\n$/);
    const missing = await cli(['download', 'org/missing', '--cache-dir', cacheDir, '--endpoint', hub.endpoint]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /private: set HF_TOKEN.*\[HUB_REPO_NOT_FOUND\]\n$/);
    const endpoint = await cli(['download', 'org/tiny', '--endpoint', 'ftp://x']);
    assert.equal(endpoint.status, 2);
    assert.match(endpoint.stderr, /--endpoint: expected an http\(s\) URL/);
  });

  it('draws a bar per file on a terminal', () => {
    let drawn = '';
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 100, cursorTo() {}, clearLine() {}, moveCursor() {} });
    tty.on('data', (d: Buffer) => (drawn += d));
    const bar = downloadBar(tty as unknown as NodeJS.WriteStream);
    bar.update({ file: 'model.safetensors', bytes: 150_000, total: 300_000 });
    bar.update({ file: 'model.safetensors', bytes: 300_000, total: 300_000 });
    bar.stop();
    assert.match(drawn, /model\.safetensors .*100% \| 0\.3\/0\.3 MB/);
    let none = '';
    const pipe = new PassThrough();
    pipe.on('data', (d: Buffer) => (none += d));
    const quiet = downloadBar(pipe as unknown as NodeJS.WriteStream);
    quiet.update({ file: 'x', bytes: 1, total: 2 });
    quiet.stop();
    assert.equal(none, '');
  });
});
