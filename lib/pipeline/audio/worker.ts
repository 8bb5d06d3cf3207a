/**
 * A worker of the audio pool (pool.ts): runs one input at a time through decodeToRate and posts the samples back as
 * transferred buffers. Whole mode gathers them into one buffer; stream mode posts pieces of STREAM_SAMPLES and waits
 * for the consumer to take them (at most STREAM_CREDIT ahead), so a long file is never decoded far ahead of its use.
 */
import { parentPort } from 'node:worker_threads';
import { Wav2Vec2Error } from '../../errors';
import type { AudioBudget } from './budget';
import { decodeToRate } from './decode';

export interface JobMessage {
  type: 'job';
  id: number;
  input: string | Uint8Array;
  name: string;
  targetRate: number;
  budget: AudioBudget;
  stream: boolean;
}
export type ControlMessage = { type: 'pull' | 'cancel'; id: number };

export type ReplyMessage =
  | { type: 'ready' }
  | { type: 'samples'; id: number; samples: Float32Array; sourceRate: number }
  | { type: 'done'; id: number; sourceRate: number }
  | { type: 'error'; id: number; code: string; message: string; retire: boolean };

/** Largest buffer sized from a header's claim: 10 min at 16 kHz (38 MB); beyond, it grows as the samples come. */
const MAX_RESERVE = 600 * 16000;

/** Samples per message in stream mode (4 s at 16 kHz). */
const STREAM_SAMPLES = 1 << 16;
const STREAM_CREDIT = 2;

const port = parentPort!;
let current: { id: number; credit: number; cancelled: boolean; wake: (() => void) | null } | null = null;

port.on('message', (m: JobMessage | ControlMessage) => {
  if (m.type === 'job') {
    void run(m);
    return;
  }
  if (!current || current.id !== m.id) return;
  if (m.type === 'pull') current.credit++;
  else current.cancelled = true;
  current.wake?.();
});

port.postMessage({ type: 'ready' } satisfies ReplyMessage);

/**
 * Appends to a growing buffer (whole mode), or cuts into STREAM_SAMPLES pieces. Sized from the header's declared
 * length where there is one, so the whole output is one buffer, handed over without a copy; else it doubles.
 */
class Gather {
  buf = new Float32Array(1 << 16);
  len = 0;
  /** Sizes the buffer for `n` samples (capped: the declared length is a claim, checked against the budget only). */
  reserve(n: number): void {
    if (this.len === 0 && n > 0 && n <= MAX_RESERVE) this.buf = new Float32Array(n);
  }
  add(x: Float32Array): void {
    if (this.len + x.length > this.buf.length) {
      const grown = new Float32Array(Math.max(this.len + x.length, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(x, this.len);
    this.len += x.length;
  }
  take(): Float32Array {
    const out = this.len === this.buf.length ? this.buf : this.buf.slice(0, this.len);
    this.buf = new Float32Array(0);
    this.len = 0;
    return out;
  }
}

async function send(job: NonNullable<typeof current>, samples: Float32Array, sourceRate: number): Promise<void> {
  while (job.credit <= 0 && !job.cancelled) await new Promise<void>((r) => (job.wake = r));
  job.wake = null;
  if (job.cancelled) return;
  job.credit--;
  port.postMessage({ type: 'samples', id: job.id, samples, sourceRate } satisfies ReplyMessage, [samples.buffer as ArrayBuffer]);
}

async function run(m: JobMessage): Promise<void> {
  const job = (current = { id: m.id, credit: STREAM_CREDIT, cancelled: false, wake: null });
  const gather = new Gather();
  let sourceRate = 0;
  try {
    const expect = m.stream ? undefined : (n: number) => gather.reserve(n);
    for await (const c of decodeToRate({ input: m.input, name: m.name, targetRate: m.targetRate, budget: m.budget, cancelled: () => job.cancelled, ...(expect ? { expect } : {}) })) {
      sourceRate = c.sourceRate;
      gather.add(c.samples);
      if (m.stream && gather.len >= STREAM_SAMPLES) await send(job, gather.take(), sourceRate);
      if (job.cancelled) break;
    }
    if (gather.len > 0 && !job.cancelled) {
      if (m.stream) await send(job, gather.take(), sourceRate);
      else {
        const samples = gather.take();
        port.postMessage({ type: 'samples', id: m.id, samples, sourceRate } satisfies ReplyMessage, [samples.buffer as ArrayBuffer]);
      }
    }
    port.postMessage({ type: 'done', id: m.id, sourceRate } satisfies ReplyMessage);
  } catch (err) {
    const coded = err instanceof Wav2Vec2Error;
    // A WASM trap may leave the decoder's module in any state: this worker is replaced rather than reused.
    const cause = coded ? (err as Error).cause : err;
    const retire = !coded || cause instanceof WebAssembly.RuntimeError;
    port.postMessage({
      type: 'error', id: m.id, retire,
      code: coded ? (err as Wav2Vec2Error).code : 'AUDIO_DECODE_FAILED',
      message: coded ? (err as Error).message : `Cannot decode ${m.name}: ${(err as Error)?.message ?? String(err)}.`,
    } satisfies ReplyMessage);
  } finally {
    current = null;
  }
}
