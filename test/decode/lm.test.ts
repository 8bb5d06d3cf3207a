import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { NGramLanguageModel } from '../../lib/decode';
import { buildArpa } from '../../scripts/build-arpa';
import { rejectsCode, throwsCode } from '../helpers/errors';

const LN10 = Math.LN10;

/** A hand-written trigram model; expected values below are worked out by hand from these numbers. */
const ARPA = `This comment before \\data\\ is ignored.
\\data\\
ngram 1=5
ngram 2=4
ngram 3=2

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.5
-0.7\t</s>
-0.5\ta\t-0.3
-0.6\tb\t-0.2

\\2-grams:
-0.3\t<s> a\t-0.1
-0.4\ta b\t-0.15
-0.2\tb a
-0.5\ta </s>

\\3-grams:
-0.1\t<s> a b
-0.05\ta b a

\\end\\
`;

function close(actual: number, expectedLog10: number, what: string): void {
  assert.ok(Math.abs(actual - expectedLog10 * LN10) < 1e-5, `${what}: ${actual / LN10} vs ${expectedLog10} (log10)`);
}

function stateAfter(lm: NGramLanguageModel, words: string[]): number {
  let s = lm.start();
  for (const w of words) s = lm.score(s, w).state;
  return s;
}

describe('decode/lm: NGramLanguageModel (ARPA)', () => {
  const lm = NGramLanguageModel.fromArpa(ARPA);

  it('reads the header and the vocabulary', () => {
    assert.equal(lm.order, 3);
    assert.deepEqual(lm.counts, [5, 4, 2]);
    assert.ok(lm.has('a') && lm.has('<unk>') && !lm.has('zzz'));
  });

  describe('matches back-off values computed by hand (natural log of the log10 sums)', () => {
    it('listed n-grams are used directly', () => {
      close(lm.score(lm.start(), 'a').score, -0.3, 'p(a | <s>)');
      close(lm.score(stateAfter(lm, ['a']), 'b').score, -0.1, 'p(b | <s> a)');
      close(lm.score(stateAfter(lm, ['a', 'b']), 'a').score, -0.05, 'p(a | <s> a b) = p(a | a b)');
    });
    it('unlisted n-grams back off through the context weights', () => {
      // p(b | <s>) = bo(<s>) + p(b) = -0.5 - 0.6
      close(lm.score(lm.start(), 'b').score, -1.1, 'p(b | <s>)');
      // p(</s> | a b) = bo(a b) + bo(b) + p(</s>) = -0.15 - 0.2 - 0.7
      close(lm.finish(stateAfter(lm, ['a', 'b'])), -1.05, 'p(</s> | a b)');
      // p(b | b a): no "b a b"; "b a" lists no back-off (0); p(b | a) = -0.4
      close(lm.score(stateAfter(lm, ['a', 'b', 'a']), 'b').score, -0.4, 'p(b | b a)');
    });
    it('unknown words score as <unk> after backing off, and start a fresh context', () => {
      // p(zzz | <s> a) = bo(<s> a) + bo(a) + p(<unk>) = -0.1 - 0.3 - 1.0
      const s = stateAfter(lm, ['a']);
      const r = lm.score(s, 'zzz');
      close(r.score, -1.4, 'p(zzz | <s> a)');
      // After <unk>: p(a | <unk>) = bo(<unk>) + p(a) = 0 - 0.5
      close(lm.score(r.state, 'a').score, -0.5, 'p(a | <unk>)');
    });
    it('sentence log-probability sums the steps, with </s>', () => {
      // <s> a b a </s>: -0.3 - 0.1 - 0.05 + p(</s> | b a) = bo(b a)=0 + p(</s> | a) = -0.5
      close(lm.sentenceLogProb(['a', 'b', 'a']), -0.3 - 0.1 - 0.05 - 0.5, 'log p(<s> a b a </s>)');
    });
    it('states keep only the context the model can use', () => {
      // "b a" after "a" and after "<s> a b": the same two-word context.
      assert.equal(stateAfter(lm, ['a', 'b', 'a']), stateAfter(lm, ['b', 'a', 'b', 'a']));
      // "a b b" has no "b b" bigram: the state is the unigram context "b".
      assert.equal(stateAfter(lm, ['a', 'b', 'b']), stateAfter(lm, ['b', 'b']));
    });
  });

  describe('with the ARPA builder (interpolated Kneser-Ney in back-off form)', () => {
    it('matches Kneser-Ney probabilities worked out by hand for a tiny corpus', () => {
      // Corpus "a b" / "a c" / "b", bigram. Hand computation (see the builder's header for the method):
      // D2 = 4/(4+2*2) = 1/2; unigram continuation counts a:1 b:2 c:1 </s>:2, D1 = 2/(2+2*2) = 1/3,
      // gamma0 = (1/3)*4/6 = 2/9, uniform share over 5 words (</s> <unk> a b c).
      const lm2 = NGramLanguageModel.fromArpa(buildArpa([['a', 'b'], ['a', 'c'], ['b']], 2).arpa);
      const p = (ctx: string[], w: string): number => Math.exp(lm2.score(stateAfter(lm2, ctx), w).score);
      const eq = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);
      eq(p(['b', 'b'], '<unk>'), 0.25 * (2 / 45), 'p(<unk> | b) = gamma(b) p1(<unk>)');
      eq(p([], 'a'), 149 / 270, 'p(a | <s>) = 1.5/3 + (1/3)(7/45)');
      eq(p(['a'], 'b'), 37 / 90, 'p(b | a) = 0.5/2 + 0.5 (29/90)');
      eq(Math.exp(lm2.finish(stateAfter(lm2, ['a']))), 29 / 180, 'p(</s> | a) = 0.5 (29/90)');
      eq(p(['b'], 'c'), 7 / 180, 'p(c | b) = 0.25 (14/90)');
    });

    it('every conditional distribution sums to one over the vocabulary', () => {
      const text = [
        'the cat sat on the mat', 'the dog sat on the log', 'a cat ate the fish', 'the fish swam',
        'a dog and a cat', 'the mat was red', 'on the log sat a frog', 'the frog ate a fly',
      ].map((s) => s.split(' '));
      for (const order of [1, 2, 3, 4]) {
        const m = NGramLanguageModel.fromArpa(buildArpa(text, order).arpa);
        const vocab = m.words.filter((w) => w !== '<s>');
        for (const ctx of [[], ['the'], ['the', 'cat'], ['sat', 'on', 'the'], ['mat', 'the'], ['zebra'], ['a', 'zebra', 'the'], ['fish', 'fish']]) {
          const s = stateAfter(m, ctx);
          let sum = 0;
          for (const w of vocab) sum += Math.exp(m.score(s, w).score);
          assert.ok(Math.abs(sum - 1) < 1e-5, `order ${order}, context "${ctx.join(' ')}": sum ${sum}`);
        }
      }
    });
  });

  describe('loading files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-lm-'));
    const plain = join(dir, 'lm.arpa');
    const gz = join(dir, 'lm.arpa.gz');
    writeFileSync(plain, ARPA.replace(/\n/g, '\r\n'));
    writeFileSync(gz, gzipSync(ARPA));
    it('loadSync and load read plain (CRLF) and gzipped ARPA with the same scores', async () => {
      const models = [NGramLanguageModel.loadSync(plain), NGramLanguageModel.loadSync(gz), await NGramLanguageModel.load(plain), await NGramLanguageModel.load(gz)];
      for (const m of models) {
        assert.deepEqual(m.counts, [5, 4, 2]);
        close(m.sentenceLogProb(['a', 'b', 'a']), -0.95, 'sentence');
      }
    });
    it('a missing file is an LM_INVALID error', async () => {
      throwsCode(() => NGramLanguageModel.loadSync(join(dir, 'nope.arpa')), 'LM_INVALID', /Cannot read the language model .*nope\.arpa.*ENOENT/);
      await rejectsCode(NGramLanguageModel.load(join(dir, 'nope.arpa')), 'LM_INVALID', /Cannot read the language model .*ENOENT/);
    });
    it('a missing .gz file is an LM_INVALID error, not an uncaught exception (the stream error is forwarded)', async () => {
      throwsCode(() => NGramLanguageModel.loadSync(join(dir, 'nope.arpa.gz')), 'LM_INVALID', /Cannot read the language model .*nope\.arpa\.gz.*ENOENT/);
      await rejectsCode(NGramLanguageModel.load(join(dir, 'nope.arpa.gz')), 'LM_INVALID', /Cannot read the language model .*nope\.arpa\.gz.*ENOENT/);
    });
    it('a directory is an LM_INVALID error', async () => {
      throwsCode(() => NGramLanguageModel.loadSync(dir), 'LM_INVALID', /Cannot read/);
      await rejectsCode(NGramLanguageModel.load(dir), 'LM_INVALID', /Cannot read/);
    });
    it('a corrupt .gz file (not gzip, or cut short) is an LM_INVALID error', async () => {
      const notGzip = join(dir, 'not-gzip.arpa.gz');
      writeFileSync(notGzip, ARPA);
      const cut = join(dir, 'cut.arpa.gz');
      const full = gzipSync(ARPA);
      writeFileSync(cut, full.subarray(0, full.length >> 1));
      for (const path of [notGzip, cut]) {
        throwsCode(() => NGramLanguageModel.loadSync(path), 'LM_INVALID', /Cannot read the language model/);
        await rejectsCode(NGramLanguageModel.load(path), 'LM_INVALID', /Cannot read the language model/);
      }
    });
    it('reads files larger than one read chunk, with a multi-byte character split between chunks', async () => {
      // loadSync reads (or decodes the gunzipped bytes) 1 MiB at a time; put a 4-byte UTF-8 word across that boundary.
      const head = '\\data\\\nngram 1=N\n\n\\1-grams:\n';
      const lines: string[] = [];
      let bytes = Buffer.byteLength(head);
      let n = 0;
      while (bytes < (1 << 20) - 60) {
        const line = `-2.5\tword${n++}\n`;
        lines.push(line);
        bytes += line.length;
      }
      const prefix = head.replace('N', String(n + 2)) + lines.join('');
      const pad = (1 << 20) - Buffer.byteLength(prefix) - '-2.5\tx'.length - 2; // the emoji's first 2 bytes end the first MiB
      const special = `-2.5\tx${'y'.repeat(pad)}\u{1F600}z\n`;
      const text = `${prefix}${special}-1\t</s>\n\n\\end\\\n`;
      const word = special.slice('-2.5\t'.length, -1);
      assert.equal(Buffer.from(text).indexOf(Buffer.from('\u{1F600}')), (1 << 20) - 2, 'the emoji straddles the 1 MiB boundary');
      const big = join(dir, 'big.arpa');
      const bigGz = join(dir, 'big.arpa.gz');
      writeFileSync(big, text);
      writeFileSync(bigGz, gzipSync(text));
      for (const m of [NGramLanguageModel.loadSync(big), NGramLanguageModel.loadSync(bigGz), await NGramLanguageModel.load(big), await NGramLanguageModel.load(bigGz)]) {
        assert.deepEqual(m.counts, [n + 2]);
        assert.ok(m.has(word), `the word across the chunk boundary reads back (${word.length} chars)`);
        close(m.score(m.start(), word).score, -2.5, 'its score');
      }
    });
  });

  describe('bad ARPA files', () => {
    it('not ARPA at all', () => throwsCode(() => NGramLanguageModel.fromArpa('hello world\n'), 'LM_INVALID', /no \\data\\/));
    it('counts that disagree with the sections', () => throwsCode(() => NGramLanguageModel.fromArpa(ARPA.replace('ngram 2=4', 'ngram 2=5')), 'LM_INVALID', /declares 5 2-grams/));
    it('a line with the wrong number of fields', () => throwsCode(() => NGramLanguageModel.fromArpa(ARPA.replace('-0.2\tb a', '-0.2\tb a c d')), 'LM_INVALID', /line \d+/));
    it('a probability that is not a number', () => throwsCode(() => NGramLanguageModel.fromArpa(ARPA.replace('-0.7\t</s>', 'x\t</s>')), 'LM_INVALID', /not a number/));
    it('an n-gram listed twice', () => throwsCode(() => NGramLanguageModel.fromArpa(ARPA.replace('-0.2\tb a', '-0.2\ta b')), 'LM_INVALID', /listed twice/));
    it('a truncated file', () => throwsCode(() => NGramLanguageModel.fromArpa(ARPA.replace('\\end\\', '')), 'LM_INVALID', /ends before/));
    it('an invalid state', () => throwsCode(() => lm.score(-1, 'a'), 'LM_INVALID'));
    it('counts too large to index (a RangeError before)', () => {
      throwsCode(() => NGramLanguageModel.fromArpa(ARPA.replace('ngram 1=5', 'ngram 1=99999999999')), 'LM_INVALID', /declares 99999999999 n-grams in all; at most \d+ are supported/);
      throwsCode(() => NGramLanguageModel.fromArpa(ARPA.replace('ngram 1=5', `ngram 1=${'9'.repeat(400)}`)), 'LM_INVALID', /at most \d+ are supported/);
    });
    it('a header claiming far more n-grams than the file holds allocates for what is read, not for the claim', async () => {
      // 20M claimed unigrams were ~600 MB of typed arrays allocated up front; now the first allocation is capped and
      // grows with the entries actually read. Sample the memory between the stream's chunks while the file loads.
      const dir = mkdtempSync(join(tmpdir(), 'w2v-lm-claim-'));
      const path = join(dir, 'claim.arpa');
      const body = Array.from({ length: 20000 }, (_, i) => `-3\tw${i}\n`).join('');
      writeFileSync(path, `\\data\\\nngram 1=20000000\n\n\\1-grams:\n${body}\n\\end\\\n`);
      const before = process.memoryUsage().arrayBuffers;
      let peak = before;
      let done = false;
      const sample = (): void => {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
        if (!done) setImmediate(sample);
      };
      sample();
      try {
        await rejectsCode(NGramLanguageModel.load(path), 'LM_INVALID', /declares 20000000 1-grams but the file lists 20000/);
      } finally {
        done = true;
        sample();
      }
      assert.ok(peak - before < 100 * 2 ** 20, `array buffers grew by ${((peak - before) / 2 ** 20).toFixed(0)} MiB while loading`);
    });
    it('an order above 255', () => {
      const counts = Array.from({ length: 256 }, (_, i) => `ngram ${i + 1}=1`).join('\n');
      throwsCode(() => NGramLanguageModel.fromArpa(`\\data\\\n${counts}\n`), 'LM_INVALID', /order above 255/);
    });
  });

  it('adds missing prefixes as context-only entries (scores still back off correctly)', () => {
    // "c a b" has no "c a" bigram listed: the trigram is still reachable and "c a" backs off with weight 0.
    const m = NGramLanguageModel.fromArpa(`\\data\\\nngram 1=4\nngram 2=1\nngram 3=1\n\n\\1-grams:\n-1\t<s>\n-0.5\ta\t-0.1\n-0.6\tb\n-0.7\tc\n\n\\2-grams:\n-0.2\ta b\n\n\\3-grams:\n-0.05\tc a b\n\n\\end\\\n`);
    const afterCA = stateAfter(m, ['c', 'a']);
    close(m.score(afterCA, 'b').score, -0.05, 'p(b | c a)');
    // p(a | c) = bo(c)=0 + p(a) = -0.5; p(c | c a) = 0 + bo(a) + p(c) = -0.1 - 0.7
    close(m.score(stateAfter(m, ['c']), 'a').score, -0.5, 'p(a | c)');
    close(m.score(afterCA, 'c').score, -0.8, 'p(c | c a)');
  });
});
