/** What a queued job carries and how it is named: no Redis needed. */
import assert from 'node:assert/strict';
import { connectionOf } from '../../../lib/jobs/queue/redis';
import { jobIdOf, runnerKeyOf, specOf } from '../../../lib/jobs/queue/spec';
import { Wav2Vec2Error } from '../../../lib/errors';

describe('queue: job ids, specs, Redis URLs', () => {
  it('a job id is a hex hash of the folder and the key: the same input twice has one id, two folders two', () => {
    const a = jobIdOf('/mnt/out', 'u1.wav-05e648f415');
    assert.match(a, /^[0-9a-f]{40}$/, 'no ":" (BullMQ refuses custom ids with one)');
    assert.equal(jobIdOf('/mnt/out', 'u1.wav-05e648f415'), a);
    assert.notEqual(jobIdOf('/mnt/out2', 'u1.wav-05e648f415'), a);
    assert.notEqual(jobIdOf('/mnt/out', 'u2.wav-05e648f415'), a);
  });

  it('a spec makes paths absolute on the enqueuing host and keeps only what the job sets', () => {
    const s = specOf({ model: 'models/x.pt', decoder: { type: 'beam', lm: 'lm.arpa', lexicon: 'lex.txt' }, formats: ['srt'] });
    assert.equal(s.model.file, `${process.cwd()}/models/x.pt`);
    assert.equal(s.decoder!.lm, `${process.cwd()}/lm.arpa`);
    assert.equal(s.decoder!.lexicon, `${process.cwd()}/lex.txt`);
    assert.deepEqual(Object.keys(s).sort(), ['decoder', 'formats', 'model']);
    assert.deepEqual(specOf({ bundle: 'WAV2VEC2_BASE', modelsDir: 'm' }).model, { bundle: 'WAV2VEC2_BASE', modelsDir: `${process.cwd()}/m` });
    const data = (spec: ReturnType<typeof specOf>) => ({ out: '/o', input: { id: 'a', path: '/a', key: 'a-1' }, spec });
    assert.equal(runnerKeyOf(data(s)), runnerKeyOf({ ...data(s), input: { id: 'b', path: '/b', key: 'b-2' } }), 'one pipeline for the inputs of one job');
    assert.notEqual(runnerKeyOf(data(s)), runnerKeyOf(data({ ...s, formats: ['vtt'] })), 'another for other settings');
  });

  it('Redis URLs: host, port, database, credentials, TLS; anything else is INVALID_INPUT', () => {
    assert.deepEqual(connectionOf('redis://h:6380/2'), { host: 'h', port: 6380, db: 2, maxRetriesPerRequest: null });
    assert.deepEqual(connectionOf('rediss://u:p%40ss@h'), { host: 'h', port: 6379, username: 'u', password: 'p@ss', tls: {}, maxRetriesPerRequest: null });
    for (const bad of ['h:6379', 'http://h:6379', 'redis://h:6379/x']) {
      assert.throws(() => connectionOf(bad), (e: unknown) => e instanceof Wav2Vec2Error && e.code === 'INVALID_INPUT', bad);
    }
  });
});
