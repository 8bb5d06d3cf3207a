/**
 * The short version of `npm run fuzz:checkpoints` (100,000 inputs): 2,000 mutated and truncated checkpoint files
 * (config.json, safetensors, sharded index, tokenizer and preprocessor files, torch.save archives and their pickles),
 * each read in a worker thread with a timeout. Every input must be read or refused with a coded error.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeCase, makeTargets, runCase, runFuzz } from '../../scripts/fuzz-checkpoints';

describe('checkpoint/fuzz: 2,000 damaged checkpoint files', () => {
  it('gives 0 crashes, 0 hangs and only coded errors, and reaches every reader', async function () {
    this.timeout(300_000);
    const r = await runFuzz({ count: 2000, seed: 20261206, timeoutMs: 20_000, workers: 1, saveDir: join(__dirname, '..', 'fixtures', 'generated', 'checkpoint-fuzz-failures') });
    assert.equal(r.total, 2000);
    assert.deepEqual(r.problems, [], r.problems.map((p) => `${p.kind} on ${p.target} ${p.seed} (${p.mutation}): ${p.detail}`).join('\n'));
    // A fuzzer whose inputs all fail the same way tests nothing: some must still read, most must reach the checks.
    assert.ok(r.read > 60, `${r.read} inputs read`);
    assert.ok((r.coded.CHECKPOINT_INVALID ?? 0) > 700, `coded: ${JSON.stringify(r.coded)}`);
    for (const t of ['config', 'safetensors', 'safetensorsHeader', 'shardedIndex', 'tokenizer', 'preprocessor', 'torchArchive', 'pickle']) {
      assert.ok((r.byTarget[t] ?? 0) > 60, `${t}: ${r.byTarget[t]} inputs`);
    }
  });

  it('counts an uncoded error as a finding, and reproduces any input from its index alone', () => {
    const targets = makeTargets();
    const c = makeCase(targets, 7, 123);
    assert.deepEqual(makeCase(targets, 7, 123), c);
    const broken = { ...targets, [c.target]: { ...targets[c.target]!, run: () => (undefined as unknown as { x: number }).x } };
    assert.match(runCase(broken, c).uncoded!, /^TypeError: /);
    assert.equal(runCase({ ...targets, [c.target]: { ...targets[c.target]!, run: () => 1 } }, c).ok, true);
  });
});
