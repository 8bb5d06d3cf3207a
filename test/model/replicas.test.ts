/** How many model replicas a batch job runs on a CPU, and with how many threads (lib/model/replicas.ts). */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { DEFAULT_MODEL_PATH } from '../../lib/paths';
import { loadModel } from '../../lib/model/load';
import type { Model } from '../../lib/model/model';
import { createRecognizer } from '../../lib/recognizer';
import { runBatchJob } from '../../lib/jobs';
import { runWorker } from '../../lib/jobs/queue/worker';
import { checkConcurrency, cpuReplicas, loadReplicas, MAX_AUTO_REPLICAS, MAX_CONCURRENCY, SMALL_MODEL_PARAMETERS } from '../../lib/model/replicas';
import { rejectsCode, throwsCode } from '../helpers/errors';
import { requireAddon } from '../helpers/native';

describe('batch: model replicas', function () {
  this.timeout(60000);

  it('runs a small model as one single-threaded replica per core, a large one on every core', () => {
    assert.deepEqual(cpuReplicas(2_000_000, 2), { replicas: 2, threads: 1 });
    assert.deepEqual(cpuReplicas(SMALL_MODEL_PARAMETERS - 1, 4), { replicas: 4, threads: 1 });
    assert.deepEqual(cpuReplicas(SMALL_MODEL_PARAMETERS, 4), { replicas: 1, threads: 0 });
    assert.deepEqual(cpuReplicas(95_000_000, 2), { replicas: 1, threads: 0 });
    assert.deepEqual(cpuReplicas(2_000_000, 1), { replicas: 1, threads: 0 });
    assert.deepEqual(cpuReplicas(2_000_000, 64), { replicas: MAX_AUTO_REPLICAS, threads: 1 });
  });

  it('takes one concurrency check at every entry point, before anything loads or connects', async () => {
    assert.equal(checkConcurrency(undefined), undefined);
    assert.equal(checkConcurrency(MAX_CONCURRENCY), MAX_CONCURRENCY);
    for (const bad of [0, 1.5, MAX_CONCURRENCY + 1, '2', null]) {
      throwsCode(() => checkConcurrency(bad), 'INVALID_INPUT', /concurrency/);
      // a model path that does not exist: a load would fail with MODEL_LOAD_FAILED instead
      const model = '/nonexistent/model.pt';
      await rejectsCode(createRecognizer({ model, concurrency: bad as number }), 'INVALID_INPUT', /concurrency/);
      await rejectsCode(runBatchJob({ inputs: ['/nonexistent/a.wav'], out: '/nonexistent/out', model, concurrency: bad as number }), 'INVALID_INPUT', /concurrency/);
      // port 1: nothing listens there; the check comes before the first connection
      await rejectsCode(runWorker({ queue: 'redis://127.0.0.1:1', concurrency: bad as number }), 'INVALID_INPUT', /concurrency/);
    }
  });

  describe('loading them', () => {
    before(function () {
      requireAddon(this);
    });

    /** Loads the default model as loadReplicas asks, recording the threads of each load. */
    async function load(want: { concurrency?: number; threads?: number }): Promise<{ models: Model[]; asked: number[] }> {
      const asked: number[] = [];
      const models = await loadReplicas((threads) => {
        asked.push(threads);
        return loadModel(DEFAULT_MODEL_PATH, threads ? { threads } : {});
      }, want);
      return { models, asked };
    }

    it('decides from the loaded model when neither concurrency nor threads is given', async () => {
      const cores = availableParallelism();
      const { models, asked } = await load({});
      try {
        // The default model has about 2 M parameters: small.
        assert.ok(models[0]!.info.parameters < SMALL_MODEL_PARAMETERS);
        const n = cores > 1 ? Math.min(cores, MAX_AUTO_REPLICAS) : 1;
        assert.equal(models.length, n);
        // The probe load (default threads) is replaced by single-threaded replicas when there are several.
        assert.deepEqual(asked, n > 1 ? [0, ...new Array(n).fill(1)] : [0]);
        const outs = await Promise.all(models.map((m) => m.forward([new Float32Array(16000)])));
        for (const o of outs) assert.deepEqual(o.emissions.shape, outs[0]!.emissions.shape);
      } finally {
        for (const m of models) m.dispose();
      }
    });

    it('disposes the probe load it replaces', async function () {
      if (availableParallelism() < 2) this.skip(); // one core: the probe load is the replica
      const asked: Model[] = [];
      const models = await loadReplicas(async (threads) => {
        const m = await loadModel(DEFAULT_MODEL_PATH, threads ? { threads } : {});
        asked.push(m);
        return m;
      }, {});
      try {
        assert.ok(!models.includes(asked[0]!));
        await rejectsCode(asked[0]!.forward([new Float32Array(16000)]), 'DISPOSED');
      } finally {
        for (const m of models) m.dispose();
      }
    });

    it('loads what it is told when concurrency or threads is given', async () => {
      for (const [want, expected] of [
        [{ concurrency: 3 }, [0, 0, 0]],
        [{ threads: 1 }, [1]],
        [{ concurrency: 2, threads: 1 }, [1, 1]],
      ] as const) {
        const { models, asked } = await load(want);
        for (const m of models) m.dispose();
        assert.deepEqual(asked, expected, JSON.stringify(want));
        assert.equal(models.length, expected.length);
      }
    });
  });
});
