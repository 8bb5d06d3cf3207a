/**
 * This package's side of the throughput sweep: loadModel of a Hugging Face folder (the native builder) on the
 * device in each dtype, forward() on batches of equal-length items, median wall time per case. Timed as a user
 * sees it: a float32 batch from JavaScript in, float32 emissions back.
 */
import { performance } from 'node:perf_hooks';
import { median, speechLike } from '../../bench/stats';
import { loadModel } from '../../lib/model/load';
import type { DType, Device, Model } from '../../lib/model/model';
import { binding } from '../../lib/model/native';

export interface SweepOptions {
  dir: string;
  device: Device;
  dtypes: DType[];
  batches: number[];
  seconds: number;
  warmup: number;
  reps: number;
  /** Epoch milliseconds after which no new case starts (run.sh's time budget); 0: none. */
  deadline: number;
}

export interface SweepCase {
  dtype: DType;
  batch: number;
  seconds: number;
  ms?: number[];
  median_ms?: number;
  skipped?: string;
}

export interface SweepResult {
  runtime: string;
  device: string;
  cases: SweepCase[];
}

function batchOf(batch: number, seconds: number): { data: Float32Array; shape: [number, number] } {
  const n = Math.round(seconds * 16000);
  const data = new Float32Array(batch * n);
  for (let b = 0; b < batch; b++) data.set(speechLike(seconds, b + 1), b * n);
  return { data, shape: [batch, n] };
}

async function timeCase(model: Model, batch: number, o: SweepOptions): Promise<number[]> {
  const input = batchOf(batch, o.seconds);
  const ms: number[] = [];
  for (let i = 0; i < o.warmup + o.reps; i++) {
    const t0 = performance.now();
    const out = await model.forward(input);
    const t1 = performance.now();
    if (out.emissions.shape[0] !== batch) throw new Error(`batch ${batch} gave emissions of shape ${out.emissions.shape}`);
    if (i >= o.warmup) ms.push(t1 - t0);
  }
  return ms;
}

const past = (deadline: number): boolean => deadline > 0 && Date.now() > deadline;

async function sweepDtype(dtype: DType, o: SweepOptions): Promise<SweepCase[]> {
  const skipped = (batch: number): SweepCase => ({ dtype, batch, seconds: o.seconds, skipped: 'time budget spent' });
  if (past(o.deadline)) return o.batches.map(skipped);
  const model = await loadModel(o.dir, { device: o.device, dtype });
  const cases: SweepCase[] = [];
  try {
    for (const batch of o.batches) {
      if (past(o.deadline)) cases.push(skipped(batch));
      else {
        const ms = await timeCase(model, batch, o);
        cases.push({ dtype, batch, seconds: o.seconds, ms, median_ms: median(ms) });
      }
      // eslint-disable-next-line no-console
      console.log(`ours ${dtype} batch ${batch}: ${cases.at(-1)!.median_ms ?? 'skipped'}`);
    }
  } finally {
    model.dispose();
  }
  return cases;
}

export async function sweepOurs(o: SweepOptions): Promise<SweepResult> {
  const cases: SweepCase[] = [];
  for (const dtype of o.dtypes) cases.push(...(await sweepDtype(dtype, o)));
  return { runtime: `wav2vec2-node (native builder, LibTorch ${binding().torchVersion})`, device: o.device, cases };
}
