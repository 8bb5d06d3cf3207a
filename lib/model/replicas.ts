/**
 * How many replicas of a model a batch job or a Recognizer runs on a CPU, and with how many intra-op threads each,
 * when the caller chose neither (`concurrency`, `threads`).
 *
 * Why it depends on the model's size (bench:batch, 200 files, 2 cores, AMD EPYC with AVX-512; docs/batch.md):
 * - a small model's matrices are too small for LibTorch to split across threads: the default model (2 M parameters)
 *   ran the job in 19.5 s on 2 threads and 19.3 s on 1, while two replicas of 1 thread, each on its own pieces, took
 *   13.8 s;
 * - a base-size model (95 M) splits well, and two copies of its weights compete for the cache: on 30 files one
 *   replica of 2 threads took 39.3 s, two replicas of 1 thread 45.7 s.
 * So: one single-threaded replica per core below SMALL_MODEL_PARAMETERS, one replica with every core above it.
 */
import { availableParallelism } from 'node:os';
import { invalid } from '../errors';
import { isPositiveInteger } from '../is';
import type { Model } from './model';

/** Models with fewer parameters run as one single-threaded replica per core. */
export const SMALL_MODEL_PARAMETERS = 16_000_000;
/** At most this many automatic replicas: beyond it the one reader that feeds them would be the limit. */
export const MAX_AUTO_REPLICAS = 8;

export interface ReplicaChoice {
  replicas: number;
  /** Intra-op threads of each replica (0: LibTorch's default, every core). */
  threads: number;
}

/** The automatic choice for a CPU model of `parameters` parameters on `cores` cores. */
export function cpuReplicas(parameters: number, cores = availableParallelism()): ReplicaChoice {
  if (cores <= 1 || parameters >= SMALL_MODEL_PARAMETERS) return { replicas: 1, threads: 0 };
  return { replicas: Math.min(cores, MAX_AUTO_REPLICAS), threads: 1 };
}

/** Most replicas a caller may ask for. */
export const MAX_CONCURRENCY = 64;

/** A caller's `concurrency`, checked: undefined (the model's size decides) or an integer in [1, MAX_CONCURRENCY]. */
export function checkConcurrency(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (!(isPositiveInteger(v) && v <= MAX_CONCURRENCY)) throw invalid('INVALID_INPUT', 'concurrency', `an integer within [1, ${MAX_CONCURRENCY}]`, v);
  return v;
}

export interface ReplicaRequest {
  /** Replicas asked for; undefined lets the size of the model decide (on a CPU). */
  concurrency?: number;
  /** Intra-op threads per replica asked for; undefined lets the size of the model decide (on a CPU). */
  threads?: number;
}

/**
 * Loads the replicas a job runs. `open(threads)` loads one (threads 0: the caller's default). When neither
 * concurrency nor threads is given, the first load shows the model's size and device; a small CPU model is then
 * loaded again as single-threaded replicas (cheap: it is small).
 */
export async function loadReplicas(open: (threads: number) => Promise<Model>, want: ReplicaRequest): Promise<Model[]> {
  const models: Model[] = [];
  try {
    const first = await open(want.threads ?? 0);
    models.push(first);
    const auto = want.concurrency === undefined && want.threads === undefined && first.info.device === 'cpu';
    const choice = auto ? cpuReplicas(first.info.parameters) : { replicas: want.concurrency ?? 1, threads: want.threads ?? 0 };
    if (auto && choice.replicas > 1) models.pop()!.dispose();
    // The rest at once: each loads (and rewrites its graph) on its own inference thread.
    const rest = await Promise.allSettled(Array.from({ length: choice.replicas - models.length }, () => open(choice.threads)));
    for (const r of rest) if (r.status === 'fulfilled') models.push(r.value);
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return models;
  } catch (err) {
    for (const m of models) m.dispose();
    throw err;
  }
}
