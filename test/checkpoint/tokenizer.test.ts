import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readTokenizer, tokenizerFrom } from '../../lib/checkpoint/tokenizer';
import { throwsCode } from '../helpers/errors';
import { requirePython } from '../helpers/python';
import { FIXTURES, HUB_FIXTURES, reference } from './reference';

const VOCAB = { '<pad>': 0, '<s>': 1, '</s>': 2, '<unk>': 3, '|': 4, A: 5, B: 6 };

describe('checkpoint/tokenizer: vocab.json and tokenizer_config.json', () => {
  it("gives the labels, blank, delimiter and case that transformers' Wav2Vec2CTCTokenizer loads", function () {
    this.timeout(120_000);
    const py = requirePython(this, ['transformers']);
    const dirs = HUB_FIXTURES.filter((n) => !n.endsWith('-bare')).map((n) => join(FIXTURES, n));
    const theirs = reference<Record<string, unknown>>(py, 'tokenizer', ...dirs);
    for (const dir of dirs) assert.deepEqual(readTokenizer(dir), theirs[dir], dir);
  });

  it('has no tokenizer for a folder without vocab.json', () => {
    assert.equal(readTokenizer(join(FIXTURES, 'wav2vec2-bare')), undefined);
  });

  it('takes the pad token as the blank, wherever it is, and honours special_tokens_map.json over tokenizer_config.json', () => {
    const t = tokenizerFrom({ dir: '/m', vocab: { a: 0, '[PAD]': 1, ' ': 2 }, config: { pad_token: '<pad>', word_delimiter_token: '|', do_lower_case: true }, specialTokens: { pad_token: { content: '[PAD]', __type: 'AddedToken' }, word_delimiter_token: ' ' } });
    assert.deepEqual(t, { labels: ['a', '[PAD]', ' '], blank: 1, wordDelimiter: ' ', lowerCase: true });
  });

  it('adds added_tokens.json and added_tokens_decoder entries after the vocabulary', () => {
    const t = tokenizerFrom({ dir: '/m', vocab: { '<pad>': 0, a: 1 }, addedTokens: { '<s>': 2 }, config: { added_tokens_decoder: { 3: { content: '</s>' }, 0: { content: '<pad>' } } } });
    assert.deepEqual(t.labels, ['<pad>', 'a', '<s>', '</s>']);
    assert.equal(t.wordDelimiter, undefined, 'no "|" in the labels, no delimiter');
  });

  it("picks target_lang's vocabulary from a per-language vocab.json (MMS)", () => {
    const t = tokenizerFrom({ dir: '/m', vocab: { eng: VOCAB, fra: { '<pad>': 0, é: 1 } }, config: { target_lang: 'fra' } });
    assert.deepEqual(t.labels, ['<pad>', 'é']);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: { eng: VOCAB } }), 'CHECKPOINT_INVALID', /names no "target_lang"/);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: { eng: VOCAB }, config: { target_lang: 'deu' } }), 'CHECKPOINT_INVALID', /no vocabulary for target_lang "deu"/);
  });

  it('refuses ids that leave a gap, clash, or are not integers, naming the file', () => {
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: { '<pad>': 0, a: 2 } }), 'CHECKPOINT_INVALID', /^\/m\/vocab\.json: .*"a" has id 2, but there are only 2 tokens/);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: { '<pad>': 0, a: 0 } }), 'CHECKPOINT_INVALID', /"<pad>" and "a" share id 0/);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: { '<pad>': 0, a: 1.5 } }), 'CHECKPOINT_INVALID', /"a" has id 1\.5/);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: { '<pad>': 0, a: '1' } }), 'CHECKPOINT_INVALID', /"a" has id "1"/);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: {} }), 'CHECKPOINT_INVALID', /vocabulary is empty/);
  });

  it('refuses a vocabulary without the pad token, and malformed special tokens', () => {
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: { a: 0 } }), 'CHECKPOINT_INVALID', /pad token "<pad>" \(the CTC blank\) is not in the vocabulary/);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: VOCAB, config: { pad_token: 5 } }), 'CHECKPOINT_INVALID', /tokenizer_config\.json: pad_token is 5, not a token/);
    throwsCode(() => tokenizerFrom({ dir: '/m', vocab: VOCAB, config: { do_lower_case: 'yes' } }), 'CHECKPOINT_INVALID', /do_lower_case/);
  });
});
