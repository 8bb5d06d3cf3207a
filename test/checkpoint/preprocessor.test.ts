import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NO_PREPROCESSOR, preprocessorFrom, readPreprocessor } from '../../lib/checkpoint/preprocessor';
import { throwsCode } from '../helpers/errors';
import { requirePython } from '../helpers/python';
import { FIXTURES, HUB_FIXTURES, reference } from './reference';

describe('checkpoint/preprocessor: preprocessor_config.json / processor_config.json', () => {
  it('gives the rate, normalisation and mask that transformers loads, in both the 4.x and the 5.x layout', function () {
    this.timeout(120_000);
    const py = requirePython(this, ['transformers']);
    const dirs = HUB_FIXTURES.map((n) => join(FIXTURES, n));
    const theirs = reference<Record<string, unknown>>(py, 'preprocessor', ...dirs);
    for (const dir of dirs) assert.deepEqual(readPreprocessor(dir), theirs[dir], dir);
  });

  it("takes Wav2Vec2FeatureExtractor's defaults for fields the file leaves out, and the no-op one without a file", () => {
    assert.deepEqual(preprocessorFrom('p.json', {}), { sampleRate: 16000, normalize: true, attentionMask: false });
    assert.deepEqual(readPreprocessor('/nonexistent'), NO_PREPROCESSOR);
  });

  it('refuses other feature extractors and malformed fields, naming the file', () => {
    throwsCode(() => preprocessorFrom('p.json', { feature_extractor_type: 'SeamlessM4TFeatureExtractor' }), 'CHECKPOINT_INVALID', /^p\.json: .*only Wav2Vec2FeatureExtractor/);
    throwsCode(() => preprocessorFrom('p.json', { feature_size: 80 }), 'CHECKPOINT_INVALID', /feature_size 80/);
    throwsCode(() => preprocessorFrom('p.json', { sampling_rate: -1 }), 'CHECKPOINT_INVALID', /sampling_rate -1/);
    throwsCode(() => preprocessorFrom('p.json', { sampling_rate: 16000.5 }), 'CHECKPOINT_INVALID', /sampling_rate/);
    throwsCode(() => preprocessorFrom('p.json', { do_normalize: 'true' }), 'CHECKPOINT_INVALID', /"do_normalize" is "true", not a boolean/);
  });
});
