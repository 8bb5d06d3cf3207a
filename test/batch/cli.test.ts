/**
 * `wav2vec2 batch` as a process: killed with SIGKILL mid-run, and at each step of a commit (fault injection, see
 * lib/jobs/faults.ts), then resumed: every result must end up exactly once. Ctrl-C must stop cleanly.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseLayers, progressView } from '../../lib/cli/batch';
import { throwsCode } from '../helpers/errors';
import { requireAddon } from '../helpers/native';
import { requireSpeechTools, sentences, speak } from '../helpers/speech';

const CLI = join(__dirname, '..', '..', 'lib', 'cli', 'index.ts');
const FILES = 12;

function batch(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, 'batch', ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, ...env } });
}

function results(out: string): number {
  return existsSync(join(out, 'results')) ? readdirSync(join(out, 'results')).length : 0;
}

describe('batch: command line, kills and resumes', function () {
  this.timeout(120000);
  let dir: string;
  let inputs: string;
  before(function () {
    requireAddon(this);
    requireSpeechTools(this);
    dir = mkdtempSync(join(tmpdir(), 'w2v-batch-cli-'));
    inputs = join(dir, 'in');
    mkdirSync(inputs);
    const text = sentences(4, 20);
    for (let i = 0; i < FILES; i++) {
      const file = join(inputs, `u${String(i).padStart(2, '0')}.wav`);
      if (i < text.length) speak(text[i]!, file);
      else copyFileSync(join(inputs, `u${String(i % text.length).padStart(2, '0')}.wav`), file);
    }
  });

  /** The output folder holds each input exactly once, everywhere, and nothing half-done. */
  function assertComplete(out: string): void {
    const lines = readFileSync(join(out, 'transcripts.jsonl'), 'utf8');
    assert.ok(lines.endsWith('\n'));
    const records = lines.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const files = records.map((r) => r.file).sort();
    assert.deepEqual(files, readdirSync(inputs).map((f) => join(inputs, f)).sort(), 'every input once');
    for (const r of records) {
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'results', `${r.key}.json`), 'utf8')), r);
      assert.equal(readFileSync(join(out, 'txt', `${r.key}.txt`), 'utf8'), r.text + '\n');
    }
    assert.equal(readdirSync(join(out, 'results')).length, FILES);
    assert.equal(readdirSync(join(out, 'txt')).length, FILES);
    assert.ok(!existsSync(join(out, '.tmp')) && !existsSync(join(out, '.lock')));
  }

  it('resumes after SIGKILL mid-run and after a kill at every step of a commit, with every result exactly once', async () => {
    const out = join(dir, 'out-kill');
    const args = [inputs, '--out', out, '--txt', '--batch-size', '1', '--progress', 'none'];
    // A real kill -9 from outside, as soon as the first results are committed.
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'batch', ...args], { stdio: 'ignore' });
    const killed = await new Promise<string | null>((resolve) => {
      const poll = setInterval(() => {
        if (results(out) >= 2) child.kill('SIGKILL');
      }, 5);
      child.on('exit', (_code, signal) => {
        clearInterval(poll);
        resolve(signal);
      });
    });
    assert.equal(killed, 'SIGKILL');
    let done = results(out);
    assert.ok(done >= 2 && done < FILES, `killed after ${done} of ${FILES} results`);

    // Killed at each step of a commit: before the result is renamed in, after it, half-way through its line, after it.
    for (const fault of ['before-commit:2', 'after-commit:2', 'mid-append:2', 'after-append:1']) {
      const r = batch(args, { WAV2VEC2_BATCH_FAULT: fault });
      assert.equal(r.signal, 'SIGKILL', `${fault}: ${r.stderr}`);
      const now = results(out);
      assert.ok(now > done || fault === 'before-commit:2' , `${fault}: progress ${done} -> ${now}`);
      if (fault === 'mid-append:2') assert.ok(!readFileSync(join(out, 'transcripts.jsonl'), 'utf8').endsWith('\n'), 'a torn line was left');
      done = now;
    }
    const last = batch(args);
    assert.equal(last.status, 0, last.stderr);
    assert.match(last.stderr, new RegExp(`${FILES} files: \\d+ done, 0 failed, ${done} skipped`));
    assertComplete(out);
  });

  it('Ctrl-C stops after the running batch with status 130; the same command then finishes the job', async () => {
    const out = join(dir, 'out-int');
    const args = [inputs, '--out', out, '--txt', '--batch-size', '1', '--progress', 'lines'];
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'batch', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => {
      let sent = false;
      const poll = setInterval(() => {
        if (!sent && results(out) >= 1) {
          sent = true;
          child.kill('SIGINT');
        }
      }, 5);
      child.on('exit', (c) => {
        clearInterval(poll);
        resolve(c);
      });
    });
    assert.equal(code, 130, stderr);
    assert.match(stderr, /rerun the same command to resume/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack');
    assert.ok(!existsSync(join(out, '.lock')), 'lock released');
    const r = batch(args);
    assert.equal(r.status, 0, r.stderr);
    assertComplete(out);
  });

  it('a failed input gives status 3 and a failures.jsonl line; usage mistakes give one line', () => {
    const out = join(dir, 'out-bad');
    const r = batch([join(dir, 'missing.wav'), '--out', out, '--progress', 'none']);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(JSON.parse(readFileSync(join(out, 'failures.jsonl'), 'utf8')).code, 'AUDIO_READ_FAILED');
    const u = batch([inputs, '--out', out, '--features', 'x']);
    assert.equal(u.status, 2);
    assert.match(u.stderr, /--features: expected layer numbers .* \[INVALID_INPUT\]/);
    assert.equal(u.stderr.trim().split('\n').length, 1);
  });
});

describe('batch: command-line parsing and progress', () => {
  it('--features: ranges are bounded before they are expanded', () => {
    assert.deepEqual(parseLayers('4, 1-2,2'), [1, 2, 4]);
    throwsCode(() => parseLayers('1-1001'), 'INVALID_INPUT', /at most 1000/);
    // Would fill a Set of a billion numbers before any later check.
    throwsCode(() => parseLayers('1-999999999'), 'INVALID_INPUT', /--features/);
  });

  it('the bar stays stopped after Ctrl-C: later progress does not draw it again over the message', () => {
    const written: string[] = [];
    const tty = Object.assign(new Writable({ write(chunk, _enc, cb) { written.push(String(chunk)); cb(); } }), { isTTY: true, columns: 80 });
    const view = progressView('bar', 10, tty as unknown as NodeJS.WriteStream);
    const p = { files: 3, skipped: 0, done: 1, failed: 0, audioSeconds: 1, elapsedSeconds: 1, realTime: 1, etaSeconds: 2 };
    view.update(p);
    assert.ok(written.length > 0);
    view.stop();
    const after = written.length;
    view.update({ ...p, done: 2 });
    view.stop();
    assert.equal(written.length, after);
  });
});
