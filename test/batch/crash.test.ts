/**
 * An input that kills the process every time it runs (a native crash, a kill -9 on it, the OOM killer) must not
 * keep the job from finishing: `wav2vec2 batch` is killed with SIGKILL whenever one input reaches the model (fault
 * injection, see lib/jobs/faults.ts) and rerun; after --max-attempts deaths with it in flight, the next run records it
 * as BATCH_INPUT_CRASHED and finishes every other input exactly once.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireAddon } from '../helpers/native';
import { requireSpeechTools, sentences, speak } from '../helpers/speech';

const CLI = join(__dirname, '..', '..', 'lib', 'cli', 'index.ts');

function batch(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, 'batch', ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, ...env } });
}

function jsonl(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('batch: an input that crashes the process', function () {
  this.timeout(180000);
  let inputs: string;
  let files: string[];
  before(function () {
    requireAddon(this);
    requireSpeechTools(this);
    const dir = mkdtempSync(join(tmpdir(), 'w2v-crash-'));
    inputs = join(dir, 'in');
    mkdirSync(inputs);
    files = sentences(6, 30).map((text, i) => speak(text, join(inputs, `u${i}.wav`)));
  });

  it('is recorded as BATCH_INPUT_CRASHED after --max-attempts deaths, and the job finishes every other input once', () => {
    const out = join(inputs, '..', 'out');
    const args = [inputs, '--out', out, '--progress', 'none'];
    // Every run dies the first time u3.wav is handed to the model: a file that crashes the process, every time.
    const crash = { WAV2VEC2_BATCH_FAULT: 'before-forward:1', WAV2VEC2_BATCH_FAULT_INPUT: 'u3.wav' };
    for (let run = 1; run <= 3; run++) {
      const r = batch(args, crash);
      assert.equal(r.signal, 'SIGKILL', `run ${run} died on u3.wav: ${r.stderr}`);
    }
    const last = batch(args, crash);
    assert.equal(last.status, 3, `the 4th run finishes, with a failed input: ${last.stderr}`);
    const failures = jsonl(join(out, 'failures.jsonl'));
    assert.deepEqual(failures.map((f) => [f.file, f.code]), [[join(inputs, 'u3.wav'), 'BATCH_INPUT_CRASHED']]);
    assert.match(failures[0]!.message, /died 3 times/);
    // The first run died with all six in one batch: each was in flight. Only u3 may pay for it, so the others must
    // have been run alone afterwards, not batched with u3 again (or all six would be recorded as crashed).
    const done = jsonl(join(out, 'transcripts.jsonl')).map((r) => r.file);
    assert.deepEqual([...done].sort(), files.filter((f) => !f.endsWith('u3.wav')).sort(), 'every other input, each once');
    assert.equal(readdirSync(join(out, 'results')).length, files.length - 1);

    // A rerun does not try it again (it would only kill the process again) ...
    const again = batch(args, crash);
    assert.equal(again.status, 3, again.stderr);
    // ... until the limit is raised: now (the fault gone) it runs, and the job is complete.
    const raised = batch([...args, '--max-attempts', '4']);
    assert.equal(raised.status, 0, raised.stderr);
    assert.deepEqual(jsonl(join(out, 'transcripts.jsonl')).map((r) => r.file).sort(), [...files].sort());
    assert.equal(readFileSync(join(out, 'failures.jsonl'), 'utf8'), '');
    assert.ok(!existsSync(join(out, 'attempts')) || readdirSync(join(out, 'attempts')).length === 0, 'no attempt left over');
  });
});
