/** model.info: what the model says of itself, completed by its manifest where TorchScript does not keep a fact. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadModel } from '../../lib/model/load';
import { DEFAULT_MODEL_PATH } from '../../lib/paths';
import { requireAddon } from '../helpers/native';

describe('model.info', function () {
  before(function () {
    requireAddon(this);
  });

  it('takes numHeads and numLayers from the manifest when the TorchScript module has no such attribute', async () => {
    // The manifest was written from the Hugging Face config the model was trained with (export.py).
    const manifest = JSON.parse(readFileSync(DEFAULT_MODEL_PATH.replace(/\.pt$/, '.json'), 'utf8'));
    assert.ok(Number.isInteger(manifest.numHeads) && Number.isInteger(manifest.numLayers));
    const bare = await loadModel(DEFAULT_MODEL_PATH, { manifest: false });
    const model = await loadModel(DEFAULT_MODEL_PATH);
    try {
      // Without the manifest the module itself does not say how many heads it has: the case this completes.
      assert.equal(bare.info.numHeads, null);
      assert.equal(model.info.numHeads, manifest.numHeads);
      assert.equal(model.info.numLayers, manifest.numLayers);
    } finally {
      bare.dispose();
      model.dispose();
    }
  });
});
