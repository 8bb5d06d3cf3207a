import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hubCacheDir, hubToken, isRepoId, offlineFromEnv, parseRepoId, repoFolderName, resolveModelSource } from '../../lib/hub';
import { rejectsCode, throwsCode } from '../helpers/errors';

describe('hub/id', () => {
  it("accepts what huggingface_hub's validate_repo_id accepts", () => {
    for (const id of ['foo', 'foo/bar', '123', 'Foo-BAR_foo.bar123', 'facebook/wav2vec2-base-960h', 'a/b', '_x/y_', 'x'.repeat(96)]) {
      assert.ok(isRepoId(id), id);
    }
  });

  it('refuses what it refuses: HUB_INVALID_ID saying why', () => {
    const cases: Array<[string, RegExp]> = [
      ['datasets/foo/bar', /one slash at most/], ['.repo_id', /cannot start or end/], ['foo-', /cannot start or end/],
      ['foo--bar', /'--'/], ['other..repo', /'\.\.'/], ['foo.git', /\.git/], ['x'.repeat(97), /1 to 96/], ['café', /letters, digits/],
      ['', /1 to 96/], ['/foo', /1 to 96/], ['org/ba r', /letters/],
    ];
    for (const [id, why] of cases) {
      assert.ok(!isRepoId(id), id);
      throwsCode(() => parseRepoId(id), 'HUB_INVALID_ID', why);
    }
  });

  it('reads @revision (branch, tag, commit, refs/pr/N) and defaults to main', () => {
    assert.deepEqual(parseRepoId('org/name'), { repo: 'org/name', revision: 'main' });
    assert.deepEqual(parseRepoId('org/name@v1.0'), { repo: 'org/name', revision: 'v1.0' });
    assert.deepEqual(parseRepoId('org/name@refs/pr/3'), { repo: 'org/name', revision: 'refs/pr/3' });
    assert.deepEqual(parseRepoId('org/name', 'dev'), { repo: 'org/name', revision: 'dev' });
    assert.deepEqual(parseRepoId('org/name@dev', 'dev'), { repo: 'org/name', revision: 'dev' });
    throwsCode(() => parseRepoId('org/name@a', 'b'), 'HUB_INVALID_ID', /give one/);
    for (const bad of ['', '../x', 'a//b', 'x y', '.hidden', 'a.lock']) throwsCode(() => parseRepoId(`org/name@${bad}`), 'HUB_INVALID_ID', /Revision/);
  });

  it("names cache folders as huggingface_hub's repo_folder_name", () => {
    assert.equal(repoFolderName('facebook/wav2vec2-base-960h'), 'models--facebook--wav2vec2-base-960h');
    assert.equal(repoFolderName('gpt2'), 'models--gpt2');
  });
});

describe('hub/cache settings', () => {
  it('cache: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub', () => {
    assert.equal(hubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' }), '/a');
    assert.equal(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/old', HF_HOME: '/b' }), '/old');
    assert.equal(hubCacheDir({ HF_HOME: '/b', XDG_CACHE_HOME: '/x' }), '/b/hub');
    assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
    assert.equal(hubCacheDir({}), join(homedir(), '.cache', 'huggingface', 'hub'));
    assert.equal(hubCacheDir({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'));
  });

  it('token: HF_TOKEN, else the token file; offline: the values huggingface_hub takes as true', () => {
    assert.equal(hubToken({ HF_TOKEN: ' hf_a\n', HF_HOME: '/nonexistent' }), 'hf_a');
    assert.equal(hubToken({ HF_HOME: '/nonexistent' }), undefined);
    for (const v of ['1', 'true', 'YES', 'on']) assert.ok(offlineFromEnv({ HF_HUB_OFFLINE: v }), v);
    for (const v of ['0', 'false', '']) assert.ok(!offlineFromEnv({ HF_HUB_OFFLINE: v }), v);
    assert.ok(offlineFromEnv({ TRANSFORMERS_OFFLINE: '1' }));
  });
});

describe('hub/resolveModelSource', () => {
  let dir: string;
  const cwd = process.cwd();
  const noHub = { endpoint: 'http://127.0.0.1:9', offline: false, token: false as const };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hub-src-'));
  });
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('an existing local path wins over a repo id of the same spelling, without a request', async () => {
    mkdirSync(join(dir, 'facebook', 'wav2vec2-base-960h'), { recursive: true });
    process.chdir(dir);
    assert.deepEqual(await resolveModelSource('facebook/wav2vec2-base-960h', noHub), { kind: 'path', path: join(dir, 'facebook', 'wav2vec2-base-960h') });
  });

  it('a spelling that reads as a path stays a path, for the loader to report missing', async () => {
    for (const p of ['model.pt', './x', '/abs/x', 'a/b/c', 'models/default.json']) {
      assert.deepEqual(await resolveModelSource(p, noHub), { kind: 'path', path: resolve(p) }, p);
    }
  });

  it('anything else is a repo id: fetched (here: the network error), or HUB_INVALID_ID', async () => {
    await rejectsCode(resolveModelSource('org/name', noHub), 'HUB_NETWORK');
    await rejectsCode(resolveModelSource('org/na--me', noHub), 'HUB_INVALID_ID');
  });
});
