/**
 * The package as npm sees it: the dependency tree a user installs agrees with our `engines` (npm warns
 * EBADENGINE otherwise), and the CLI runs from the repository without npm warnings. The full install of the packed
 * tarball into an empty project is `npm run check:package` (minutes: it builds the addon), run by .ci/run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';

const ROOT = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };

describe('package', function () {
  this.timeout(60000);

  it('every production dependency installed supports every Node version our engines field allows', () => {
    const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(ls.status, 0, ls.stderr);
    const dirs = ls.stdout.trim().split('\n').slice(1); // the first line is the project itself
    assert.ok(dirs.length > 20, `npm ls listed ${dirs.length} packages`);
    const disagree = dirs.flatMap((dir) => {
      const dep = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string; engines?: { node?: string } };
      const wants = dep.engines?.node;
      return wants && !semver.subset(pkg.engines.node, wants) ? [`${dep.name}@${dep.version} wants node ${wants}`] : [];
    });
    assert.deepEqual(disagree, [], `our engines say node ${pkg.engines.node}`);
  });

  it('the engines range holds the Node that runs this test', () => {
    assert.ok(semver.satisfies(process.version, pkg.engines.node), `${process.version} vs ${pkg.engines.node}`);
  });

  it('`npx wav2vec2` in the repository prints no npm warning (no unknown project config)', function () {
    if (!existsSync(join(ROOT, 'dist', 'lib', 'cli', 'index.js'))) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: dist/ is not built; npm install or npm run build:ts builds it)');
      this.skip();
    }
    const r = spawnSync('npx', ['wav2vec2', '--version'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    assert.doesNotMatch(r.stderr, /warn/i);
  });
});
