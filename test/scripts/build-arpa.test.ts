/** scripts/build-arpa.ts as a command: the input it reads (plain or gzipped text) and the input it refuses. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { NGramLanguageModel } from '../../lib/decode';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'build-arpa.ts');
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { encoding: 'utf8' });

describe('scripts/build-arpa.ts', function () {
  this.timeout(60000);
  let dir: string;
  const text = 'the cat sat\nthe dog sat\na cat ran\n';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'w2v-arpa-'));
    writeFileSync(join(dir, 'text.txt'), text);
    writeFileSync(join(dir, 'text.txt.gz'), gzipSync(text));
  });

  it('reads gzipped text as the text it holds: the same LM and lexicon as from the plain file', () => {
    const plain = run('--upper', '--lexicon', join(dir, 'plain.lex'), join(dir, 'text.txt'), join(dir, 'plain.arpa'));
    assert.equal(plain.status, 0, plain.stderr);
    const gz = run('--upper', '--lexicon', join(dir, 'gz.lex'), join(dir, 'text.txt.gz'), join(dir, 'gz.arpa'));
    assert.equal(gz.status, 0, gz.stderr);
    const arpa = readFileSync(join(dir, 'gz.arpa'), 'utf8');
    assert.equal(arpa, readFileSync(join(dir, 'plain.arpa'), 'utf8'));
    // <s>, </s>, <unk> and the text's six words, upper-cased
    assert.match(arpa, /ngram 1=9\n/);
    assert.match(arpa, /\tCAT\t/);
    assert.equal(readFileSync(join(dir, 'gz.lex'), 'utf8'), 'A A |\nCAT C A T |\nDOG D O G |\nRAN R A N |\nSAT S A T |\nTHE T H E |\n');
  });

  it('refuses a binary file and a file without sentences, instead of writing an LM of garbage or of nothing', () => {
    writeFileSync(join(dir, 'binary.bin'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0xff, 0xfe, 0x00, 0x81]));
    const binary = run(join(dir, 'binary.bin'), join(dir, 'binary.arpa'));
    assert.equal(binary.status, 1);
    assert.match(binary.stderr, /binary\.bin is not UTF-8 text/);
    writeFileSync(join(dir, 'blank.txt'), '\n  \n');
    const blank = run(join(dir, 'blank.txt'), join(dir, 'blank.arpa'));
    assert.equal(blank.status, 1);
    assert.match(blank.stderr, /blank\.txt holds no sentence/);
  });

  it('`npm run build:lm` builds the default model\'s LM and lexicon from its whole training text', async function () {
    this.timeout(120000);
    // The package.json script as it is, with its two outputs sent to a temporary folder instead of models/.
    const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['build:lm'] as string)
      .replace('models/default.lexicon.txt', join(dir, 'default.lexicon.txt')).replace('models/default.arpa', join(dir, 'default.arpa'));
    assert.match(script, /^node --import tsx scripts\/build-arpa\.ts /);
    const r = spawnSync(process.execPath, script.split(' ').slice(1), { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const text = gunzipSync(readFileSync(join(ROOT, 'scripts', 'make_default_model', 'text', 'train.txt.gz'))).toString('utf8').toUpperCase();
    const words = new Set(text.split(/\s+/).filter(Boolean));
    const lexicon = readFileSync(join(dir, 'default.lexicon.txt'), 'utf8').trim().split('\n');
    assert.deepEqual(lexicon.map((l) => l.split(' ')[0]).sort(), [...words].sort());
    assert.match(readFileSync(join(dir, 'default.arpa'), 'utf8').slice(0, 200), new RegExp(`ngram 1=${words.size + 3}\n`));
    const lm = await NGramLanguageModel.load(join(dir, 'default.arpa'));
    assert.equal(lm.order, 3);
  });
});
