import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import { Wav2Vec2Error } from '../errors';
import { PACKAGE_ROOT } from '../paths';

/**
 * `wav2vec2 setup`: what the package's install script does (find LibTorch or install it into the package's own
 * .venv/, then build the addon), for installs where npm did not run install scripts (`--ignore-scripts`, or an
 * allowScripts policy that denies them). It runs the same script, so the two cannot drift apart.
 */
export function setupCommand(): Command {
  return new Command('setup')
    .description("build the native addon (what `npm install` does unless install scripts are blocked): finds LibTorch or pip-installs torch into the package's .venv/")
    .action(() => {
      const script = join(PACKAGE_ROOT, 'scripts', 'install.js');
      const r = spawnSync(process.execPath, [script], { stdio: 'inherit', cwd: PACKAGE_ROOT, env: { ...process.env, WAV2VEC2_SKIP_BUILD: undefined } });
      if (r.error) throw new Wav2Vec2Error('NATIVE_ADDON_MISSING', `could not run ${script}: ${r.error.message}`);
      if (r.status !== 0) throw new Wav2Vec2Error('NATIVE_ADDON_MISSING', `the build failed (${script} exited with status ${r.status}); its output above says why.`);
    });
}
