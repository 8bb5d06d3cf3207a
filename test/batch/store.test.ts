/** The output folder: atomic commits, repair after a kill, one job at a time, same settings on resume. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobStore } from '../../lib/jobs/store';
import { rejectsCode } from '../helpers/errors';

const settings = { model: 'm.pt', window: 480000 };

function lines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('batch: output folder', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'w2v-store-')), 'out');
  });

  it('commits a result, its line and its optional outputs; a reopened folder knows it is done', async () => {
    const s = await JobStore.open(dir, settings);
    await s.commit('a-1', { key: 'a-1', text: 'A' }, [{ rel: 'txt/a-1.txt', content: 'A\n' }]);
    await s.close();
    assert.equal(readFileSync(join(dir, 'txt', 'a-1.txt'), 'utf8'), 'A\n');
    assert.deepEqual(lines(join(dir, 'transcripts.jsonl')), [{ key: 'a-1', text: 'A' }]);
    assert.ok(!existsSync(join(dir, '.lock')) && !existsSync(join(dir, '.tmp')));
    const again = await JobStore.open(dir, settings);
    assert.deepEqual([...again.done], ['a-1']);
    await again.close();
  });

  it('cuts a torn last line and restores the lines of results committed just before a kill', async () => {
    const s = await JobStore.open(dir, settings);
    await s.commit('a', { key: 'a', text: 'A' }, []);
    await s.close();
    // A kill after b's result was renamed into place, during the append of its line.
    writeFileSync(join(dir, 'results', 'b.json'), JSON.stringify({ key: 'b', text: 'B' }) + '\n');
    appendFileSync(join(dir, 'transcripts.jsonl'), '{"key":"b","te');
    // And one after c's result, before its line.
    writeFileSync(join(dir, 'results', 'c.json'), JSON.stringify({ key: 'c', text: 'C' }) + '\n');
    const r = await JobStore.open(dir, settings);
    await r.close();
    assert.deepEqual(lines(join(dir, 'transcripts.jsonl')).map((l) => l.key), ['a', 'b', 'c']);
  });

  it('rebuilds transcripts.jsonl from results/ when it holds a line twice', async () => {
    const s = await JobStore.open(dir, settings);
    await s.commit('a', { key: 'a' }, []);
    await s.close();
    appendFileSync(join(dir, 'transcripts.jsonl'), '{"key":"a"}\n');
    await (await JobStore.open(dir, settings)).close();
    assert.deepEqual(lines(join(dir, 'transcripts.jsonl')), [{ key: 'a' }]);
  });

  it('keeps failure records until the input succeeds', async () => {
    const s = await JobStore.open(dir, settings);
    await s.fail({ id: 'x', key: 'x', file: '/x.wav', code: 'AUDIO_EMPTY', message: 'empty', time: 't' });
    await s.close();
    assert.deepEqual(lines(join(dir, 'failures.jsonl')).map((l) => l.code), ['AUDIO_EMPTY']);
    const r = await JobStore.open(dir, settings);
    assert.ok(r.failed.has('x'));
    await r.commit('x', { key: 'x' }, []);
    await r.close();
    assert.equal(readFileSync(join(dir, 'failures.jsonl'), 'utf8'), '');
    assert.deepEqual(readdirSync(join(dir, 'failed')), []);
  });

  it('refuses a folder in use by a live job, and takes over the lock of a killed one', async () => {
    const s = await JobStore.open(dir, settings);
    await rejectsCode(JobStore.open(dir, settings), 'BATCH_OUTPUT_LOCKED', /in use.*delete .*\.lock/);
    // The lock belongs to this (live) process: nothing was released by the refusal.
    assert.ok(existsSync(join(dir, '.lock')));
    await s.close();
    // A lock left by a process that is gone.
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid, host: hostname() }));
    await (await JobStore.open(dir, settings)).close();
  });

  it('takes over a lock with its own pid that it does not hold (a restarted container, a recycled pid)', async () => {
    await (await JobStore.open(dir, settings)).close();
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: process.pid, host: hostname() }));
    const s = await JobStore.open(dir, settings);
    // And now that it holds it, it refuses a second job of its own.
    await rejectsCode(JobStore.open(dir, settings), 'BATCH_OUTPUT_LOCKED', /in use/);
    await s.close();
  });

  it('takes over the lock of a live pid that is another process than the one that wrote it (Linux)', async function () {
    if (!existsSync(`/proc/${process.ppid}/stat`)) this.skip();
    await (await JobStore.open(dir, settings)).close();
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), start: 'another-boot:1' }));
    await (await JobStore.open(dir, settings)).close();
    // Without a start time (an older lock), a live pid holds it; the message says how to clear it.
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: process.ppid, host: hostname() }));
    await rejectsCode(JobStore.open(dir, settings), 'BATCH_OUTPUT_LOCKED', new RegExp(`delete ${join(dir, '.lock').replace(/[.\\/]/g, '\\$&')}`));
  });

  it('refuses to resume with other settings', async () => {
    await (await JobStore.open(dir, settings)).close();
    await rejectsCode(JobStore.open(dir, { ...settings, window: 320000 }), 'BATCH_OPTIONS_CHANGED', /window: 480000 then, 320000 now/);
  });
});
