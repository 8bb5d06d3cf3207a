import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KENLM_MAGIC, readLanguageModel } from '../../lib/checkpoint/language-model';
import { NGramLanguageModel } from '../../lib/decode/lm';
import { throwsCode } from '../helpers/errors';
import { FIXTURES } from './reference';

describe('checkpoint/language-model: the language_model/ folder of Wav2Vec2ProcessorWithLM', () => {
  let dir: string;
  const lm = () => join(dir, 'language_model');
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'w2v-lm-'));
    cpSync(join(FIXTURES, 'wav2vec2-lm'), dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the ARPA file, alpha and beta from attrs.json, and unigrams.txt; the ARPA loads in our decoder', () => {
    const info = readLanguageModel(dir)!;
    assert.deepEqual(info, { arpa: join(lm(), '4gram_tiny.arpa'), alpha: 0.5, beta: 1.5, unigrams: join(lm(), 'unigrams.txt') });
    assert.equal(NGramLanguageModel.loadSync(info.arpa).order, 2);
  });

  it('is absent for checkpoints without the folder', () => {
    assert.equal(readLanguageModel(join(FIXTURES, 'wav2vec2-base')), undefined);
  });

  it('refuses a KenLM binary with LM_UNSUPPORTED saying how to get an ARPA file, by extension or by magic', () => {
    renameSync(join(lm(), '4gram_tiny.arpa'), join(lm(), '4gram.bin'));
    throwsCode(() => readLanguageModel(dir), 'LM_UNSUPPORTED', /4gram\.bin is a KenLM binary .*lmplz/);
    rmSync(join(lm(), '4gram.bin'));
    writeFileSync(join(lm(), 'lm.arpa'), `${KENLM_MAGIC} format version 5\n\0\0\0`);
    throwsCode(() => readLanguageModel(dir), 'LM_UNSUPPORTED', /lm\.arpa is a KenLM binary/);
  });

  it('refuses missing or malformed attrs.json, two LM files, none, or a .arpa that is not ARPA, with LM_INVALID', () => {
    writeFileSync(join(lm(), 'attrs.json'), '{"alpha": "high", "beta": 1}');
    throwsCode(() => readLanguageModel(dir), 'LM_INVALID', /attrs\.json: alpha and beta must be finite numbers/);
    writeFileSync(join(lm(), 'attrs.json'), '{"alpha":');
    throwsCode(() => readLanguageModel(dir), 'LM_INVALID', /attrs\.json: not valid JSON/);
    rmSync(join(lm(), 'attrs.json'));
    throwsCode(() => readLanguageModel(dir), 'LM_INVALID', /no attrs\.json/);
    writeFileSync(join(lm(), 'attrs.json'), '{"alpha": 1, "beta": 2}');
    writeFileSync(join(lm(), 'other.arpa'), '\\data\\\n');
    throwsCode(() => readLanguageModel(dir), 'LM_INVALID', /several language model files/);
    rmSync(join(lm(), 'other.arpa'));
    writeFileSync(join(lm(), '4gram_tiny.arpa'), 'hello');
    throwsCode(() => readLanguageModel(dir), 'LM_INVALID', /not an ARPA file/);
    rmSync(join(lm(), '4gram_tiny.arpa'));
    throwsCode(() => readLanguageModel(dir), 'LM_INVALID', /no language model file/);
  });
});
