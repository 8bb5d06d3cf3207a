/**
 * scripts/export_torchaudio.py. torchaudio is not installable here, so the model export itself is not run; the
 * manifest part is (--manifest-only), and must agree with the bundle facts and with lib/model/bundles.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundles, bundleNames } from '../../lib/model/bundles';
import { validateManifest } from '../../lib/model/manifest';
import { requirePython } from '../helpers/python';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'export_torchaudio.py');
const FACTS = JSON.parse(readFileSync(join(ROOT, 'scripts', 'data', 'torchaudio-bundles.json'), 'utf8'));

describe('scripts/export_torchaudio.py --manifest-only', function () {
  let py: string;
  let dir: string;
  before(function () {
    py = requirePython(this, []);
    dir = mkdtempSync(join(tmpdir(), 'w2v-ta-'));
  });

  const run = (...args: string[]) => spawnSync(py, [SCRIPT, ...args], { encoding: 'utf8' });

  for (const name of bundleNames) {
    it(`writes the manifest of ${name}`, () => {
      const out = join(dir, `${name}.pt`);
      const r = run(name, out, '--manifest-only');
      assert.equal(r.status, 0, r.stderr);
      const m = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
      validateManifest(m, `${name}.json`);
      // Against the facts file (torchaudio's values) ...
      const f = FACTS.bundles.find((b: any) => b.name === name);
      assert.deepEqual(m.labels, f.labels ?? undefined);
      assert.equal(m.sampleRate, f.sample_rate);
      assert.equal(m.normalizeWaveform, f.normalize_waveform);
      assert.equal(m.frameStride, f.derived.frame_stride_samples);
      assert.equal(m.receptiveField, f.derived.receptive_field_samples);
      assert.deepEqual(m.convLayers, f.params.extractor_conv_layer_config.map(([, k, s]: number[]) => [k, s]));
      assert.equal(m.numLayers, f.params.encoder_num_layers);
      if (f.labels) {
        assert.equal(m.labels[m.blank], '-');
        assert.equal(m.wordDelimiter, '|');
      }
      // ... and identical to what the TypeScript bundle gives when there is no manifest on disk.
      const { source, ...rest } = m;
      const { source: tsSource, ...tsRest } = bundles[name].manifest();
      assert.deepEqual(rest, tsRest);
      assert.equal(source.bundle, (tsSource as any).bundle);
      assert.equal(source.checkpoint, (tsSource as any).checkpoint);
    });
  }

  it('refuses an unknown bundle', () => {
    const r = run('WAV2VEC2_ASR_TINY', join(dir, 'x.pt'), '--manifest-only');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unknown bundle 'WAV2VEC2_ASR_TINY'/);
  });

  it('without --manifest-only, says torchaudio is needed when it is missing', function () {
    if (spawnSync(py, ['-c', 'import torchaudio'], { stdio: 'ignore' }).status === 0) this.skip(); // torchaudio present: a real export would start
    const r = run('WAV2VEC2_ASR_BASE_960H', join(dir, 'y.pt'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /needs torch and torchaudio.*--manifest-only/s);
  });
});
