/**
 * One live stream: audio in as it arrives (mono, at the model's rate), partial and final transcripts out.
 *
 * wav2vec2 is not causal (every frame attends to the whole input), so the model runs on a sliding window on the exact
 * frame grid: `left` context already committed, a `chunk` whose frames are committed by this run, and a `lookahead`
 * whose frames are shown as tentative only. All three are multiples of the frame stride, so frame f of a window that
 * starts at sample s0 is frame s0/S + f of the whole signal (the same samples under its receptive field), as in
 * lib/jobs/windows.ts; a committed frame saw at least `lookahead` of audio after it and up to `left` before it.
 * Full windows all have one length, so the Recognizer batches those of many streams together (and with whole-file
 * requests of that length).
 *
 * Committed frames never change: the greedy path over them only grows, so a word followed by a committed word
 * delimiter is final (`stable` in partials) and stays as it is in the segment's final. The segment ends on silence
 * (lib/stream/segmenter.ts: energy), on a long run of blank frames (noise the energy rule takes for speech), or at
 * its longest; its emissions are then dropped, so memory and decoding stay bounded however long the stream.
 * Chunks outside a segment whose audio, a margin around it included, is all silence skip the model, and the model sees
 * only a segment's sound: it opens where that sound begins, and silence after it is blank (see SOUND_DB).
 */
import { Wav2Vec2Error, invalid } from '../errors';
import { isFiniteNumber } from '../is';
import type { GreedyCTCDecoder, GreedyCTCResult, Word } from '../decode';
import { seconds, wordsJson } from '../output';
import type { Tensor } from '../tensor';
import { EnergySegmenter, type SegmenterOptions } from './segmenter';

/** Window layout in samples at the model's rate (left, chunk and lookahead are multiples of frameStride). */
export interface StreamPlan {
  left: number;
  chunk: number;
  lookahead: number;
  frameStride: number;
  receptiveField: number;
  sampleRate: number;
  /** Left context from the open segment only (see StreamPlanOptions.segmentContext). */
  segmentContext: boolean;
}

export interface StreamPlanOptions {
  /** Left context, ms (default 1600). */
  leftMs?: number;
  /** Audio committed per model run, ms (default 320). */
  chunkMs?: number;
  /** Right context shown as tentative, ms (default 640). */
  lookaheadMs?: number;
  /**
   * Left context from the open segment only (default true): no window reaches back into the previous segment or the
   * silence before this one. Windows then look like the single utterances the model was trained on (on the held-out
   * set, 19.5 % WER streamed against 26.2 % with context across segments, lookahead 320 ms), at the price of shorter,
   * less often batched windows in the first `leftMs` of each segment.
   */
  segmentContext?: boolean;
}

/**
 * From bench/stream.ts on the held-out set: more look-ahead helped more than more left context, and 320/640 gave the
 * WER of 480/960 (14.8 % and 14.9 %) with partial latencies that meet 1 s at p95 (a word waits for at most one chunk).
 */
export const PLAN_DEFAULTS = { leftMs: 1600, chunkMs: 320, lookaheadMs: 640 };

export function streamPlan(model: { sampleRate: number; frameStride: number; receptiveField: number }, o: StreamPlanOptions = {}): StreamPlan {
  const S = model.frameStride;
  const grid = (what: keyof typeof PLAN_DEFAULTS, min: number, max: number) => {
    const ms = o[what] ?? PLAN_DEFAULTS[what];
    if (!(isFiniteNumber(ms) && ms >= min && ms <= max)) throw invalid('INVALID_INPUT', what, `a number of ms within [${min}, ${max}]`, ms);
    return Math.max(what === 'leftMs' ? 0 : S, Math.round((ms / 1000) * model.sampleRate / S) * S);
  };
  if (o.segmentContext !== undefined && typeof o.segmentContext !== 'boolean') throw invalid('INVALID_INPUT', 'segmentContext', 'true or false', o.segmentContext);
  return {
    left: grid('leftMs', 0, 30000), chunk: grid('chunkMs', 20, 10000), lookahead: grid('lookaheadMs', 20, 5000),
    frameStride: S, receptiveField: model.receptiveField, sampleRate: model.sampleRate, segmentContext: o.segmentContext ?? true,
  };
}

/** Samples of a full window: left + chunk + lookahead frames, and the receptive field's overhang past the last one. */
export function windowSamples(p: StreamPlan): number {
  return p.left + p.chunk + p.lookahead + (p.receptiveField - p.frameStride);
}

/** Emissions `[frames, labels]` of one window. */
export type Infer = (samples: Float32Array) => Promise<Tensor>;

export interface PartialEvent {
  type: 'partial';
  segment: number;
  /** The segment's words so far, committed and tentative. */
  text: string;
  /** How many of its first words are final (they appear as they are in the segment's final). */
  stable: number;
}

export interface FinalEvent {
  type: 'final';
  segment: number;
  /** Seconds from the start of the stream: the segment's first committed frame, and its last. */
  start: number;
  end: number;
  text: string;
  /** In seconds from the start of the stream, written as every front end writes words (lib/output). */
  words: Word[];
  /** Why the segment ended: silence, a run of blank frames, its longest length, or the end of the stream. */
  reason: 'silence' | 'blank' | 'max-length' | 'end';
}

export type StreamEvent = PartialEvent | FinalEvent;

export interface SessionOptions {
  plan: StreamPlan;
  decoder: GreedyCTCDecoder;
  infer: Infer;
  onEvent(e: StreamEvent): void;
  /** Called after each chunk is committed or skipped (the backlog shrank). */
  onProgress?(): void;
  /** Called once with the error that stopped the stream (a failed model run). */
  onError?(err: unknown): void;
  segmenter?: SegmenterOptions;
  /** Blank (or delimiter) frames after the last letter that end a segment, ms (default 1500). */
  blankRunMs?: number;
}

/** Audio around a chunk that must be silent for the chunk to skip the model, ms (a soft onset below the threshold). */
const SKIP_MARGIN_MS = 200;
/**
 * What the model sees of a segment: its sound, from where it rises above SOUND_DB before the first speech frame to
 * where it falls below it after the last (at most EDGE_MS either way: a soft onset or decay under the speech
 * threshold), and TAIL_MS more after; the rest of the silence in a window is not given to the model, its frames are
 * blank. The default model, trained on trimmed utterances, misreads silence and cut-in sound as letters: on the
 * held-out set each utterance alone scored 12.3 % WER as synthesised, 15.3 % with 0.1 s of digital silence on both
 * sides, 19.9 % with 0.7 s; streamed, 18.4 % before this trimming and 16.2 % with it (bench/stream.ts --offset 1).
 */
const SOUND_DB = -70;
const EDGE_MS = 300;
const TAIL_MS = 100;
/** Score of the other labels in a blank frame made without the model (emissions are log-probabilities or logits). */
const BLANK_OTHERS = -1e4;

export class StreamSession {
  readonly plan: StreamPlan;
  readonly #decoder: GreedyCTCDecoder;
  readonly #infer: Infer;
  readonly #onEvent: (e: StreamEvent) => void;
  readonly #onProgress: () => void;
  readonly #onError: (err: unknown) => void;
  readonly #seg: EnergySegmenter;
  readonly #blankRun: number;
  readonly #maxSegment: number;
  readonly #minSilence: number;
  readonly #margin: number;
  readonly #edge: number;
  readonly #tail: number;
  /** Energy (sum of squares) of a frame at SOUND_DB. */
  readonly #sound: number;
  readonly #classes: number;
  /** Samples from absolute index #bufStart on. */
  #buf = new Float32Array(1 << 15);
  #bufStart = 0;
  #received = 0;
  /** Frames committed so far (absolute). */
  #done = 0;
  /** The open segment: its first frame and its committed emissions; null between segments. */
  #segment: { first: number; emissions: Float32Array; frames: number } | null = null;
  #segmentIndex = 0;
  #last: { text: string; stable: number } = { text: '', stable: 0 };
  #pumping: Promise<void> | null = null;
  #ended = false;
  #error: unknown = null;
  #windows = 0;
  #skipped = 0;

  constructor(o: SessionOptions) {
    this.plan = o.plan;
    this.#decoder = o.decoder;
    this.#infer = o.infer;
    this.#onEvent = o.onEvent;
    this.#onProgress = o.onProgress ?? (() => undefined);
    this.#onError = o.onError ?? (() => undefined);
    this.#classes = o.decoder.labels.length;
    this.#seg = new EnergySegmenter(o.plan.frameStride, o.plan.sampleRate, o.segmenter);
    const blankRunMs = o.blankRunMs ?? 1500;
    if (!(isFiniteNumber(blankRunMs) && blankRunMs >= 100)) throw invalid('INVALID_INPUT', 'blankRunMs', 'a number of ms ≥ 100', blankRunMs);
    this.#blankRun = this.#seg.framesOf(blankRunMs);
    this.#maxSegment = this.#seg.framesOf(this.#seg.config.maxSegmentMs);
    this.#minSilence = this.#seg.framesOf(this.#seg.config.minSilenceMs);
    this.#margin = this.#seg.framesOf(SKIP_MARGIN_MS);
    this.#edge = this.#seg.framesOf(EDGE_MS);
    this.#tail = this.#seg.framesOf(TAIL_MS);
    this.#sound = o.plan.frameStride * 10 ** (SOUND_DB / 10);
  }

  /** Samples received and not yet committed (the backlog the caller bounds). */
  get backlog(): number {
    return this.#received - this.#done * this.plan.frameStride;
  }

  get received(): number {
    return this.#received;
  }

  /** Model runs and chunks that skipped the model (silence), for metrics and tests. */
  get counts(): { windows: number; skipped: number } {
    return { windows: this.#windows, skipped: this.#skipped };
  }

  /** Appends audio at the model's rate and runs what it makes possible (in the background: see idle()). */
  push(x: Float32Array): void {
    if (this.#ended) throw new Wav2Vec2Error('INVALID_INPUT', 'The stream has ended: no audio may follow its end.');
    this.#append(x);
    this.#seg.push(x);
    this.#kick();
  }

  /** Ends the stream: runs what is left, emits the last final. Rejects with the error that stopped the stream, if any. */
  async end(): Promise<void> {
    this.#ended = true;
    this.#kick();
    await this.idle();
  }

  /** Resolves once nothing runs (rejects with the stream's error). */
  async idle(): Promise<void> {
    while (this.#pumping) await this.#pumping;
    if (this.#error) throw this.#error;
  }

  #kick(): void {
    if (this.#pumping || this.#error) return;
    this.#pumping = this.#pump().catch((err: unknown) => {
      this.#error = err;
      this.#onError(err);
    }).finally(() => {
      this.#pumping = null;
    });
  }

  #append(x: Float32Array): void {
    const len = this.#received - this.#bufStart;
    if (len + x.length > this.#buf.length) {
      const grown = new Float32Array(Math.max(len + x.length, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, len));
      this.#buf = grown;
    }
    this.#buf.set(x, len);
    this.#received += x.length;
  }

  /** Drops samples no window will read again (before the left context of the next one). */
  #trim(): void {
    const keep = Math.max(0, this.#done * this.plan.frameStride - this.plan.left);
    const drop = keep - this.#bufStart;
    if (drop <= 0) return;
    this.#buf.copyWithin(0, drop, this.#received - this.#bufStart);
    this.#bufStart = keep;
    // Flags are read back to the margin before the next chunk, and a silence's length before that.
    this.#seg.forget(this.#done - this.#margin - this.#minSilence);
  }

  async #pump(): Promise<void> {
    const { frameStride: S, chunk, lookahead, receptiveField: RF } = this.plan;
    const Cf = chunk / S;
    const Rf = lookahead / S;
    for (;;) {
      const need = (this.#done + Cf + Rf) * S + (RF - S);
      if (this.#received >= need) {
        const onset = this.#segment ? null : this.#firstSpeech(this.#done - this.#margin, this.#done + Cf + Rf + this.#margin);
        if (!this.#segment && onset === null) {
          // Silence between segments: nothing for the model to find.
          this.#done += Cf;
          this.#skipped++;
        } else if (onset !== null && this.#leadIn(onset) > this.#done) {
          // The segment opens where its sound begins: the silence before is no segment's.
          this.#done = this.#leadIn(onset);
        } else {
          await this.#runWindow(Cf, Rf);
        }
        this.#trim();
        this.#onProgress();
        continue;
      }
      // Not enough audio for a full window: the segment ends here if the speaker stopped (or the stream did).
      const silent = this.#segment !== null && this.#seg.trailingSilence() >= this.#minSilence;
      if (silent || this.#ended) await this.#flush(this.#ended ? 'end' : 'silence');
      this.#trim();
      return;
    }
  }

  /** Window [done − left, done + chunk + lookahead): commits `Cf` frames, shows the next `Rf` as tentative. */
  async #runWindow(Cf: number, Rf: number): Promise<void> {
    const S = this.plan.frameStride;
    const start = this.#windowStart();
    const em = await this.#emissions(start, this.#done + Cf + Rf);
    const from = this.#done - start / S;
    if (!this.#segment) this.#openSegment();
    this.#commit(em, from, from + Cf);
    const committed = this.#decode();
    const reason = this.#closeReason(committed);
    if (reason) return this.#final(committed, reason);
    // Behind the audio (a busy server, or audio sent faster than real time) the flush below never runs: the segment
    // still ends in the first silence long enough that this chunk committed, and the frames after it open the next.
    // Checked before the partial, so no word after that silence is ever shown as stable in this segment.
    const cut = this.#silenceIn(this.#done - Cf, this.#done);
    if (cut !== null) this.#cutAt(cut);
    if (!this.#segment) return;
    const now = cut === null ? committed : this.#decode();
    const withTentative = this.#decode(em.data.subarray((from + Cf) * this.#classes, (from + Cf + Rf) * this.#classes));
    this.#partial(withTentative.text, stableWords(now, this.#decoder));
  }

  /**
   * Where the open segment ends in [from, to], or null: the first frame p there after `minSilence` silent frames that
   * follow speech of the segment; `to` when the segment has had no speech at all for `minSilence` (it was opened on
   * the margin around a noise).
   */
  #silenceIn(from: number, to: number): number | null {
    const first = this.#segment!.first;
    let run = 0;
    let spoke = false;
    for (let p = first; p < to; p++) {
      if (this.#seg.speechIn(p, p + 1)) {
        spoke = true;
        run = 0;
      } else run++;
      if (spoke && run >= this.#minSilence && p + 1 >= from) return p + 1;
    }
    const ahead = this.plan.lookahead / this.plan.frameStride + this.#margin;
    return !spoke && to - first >= this.#minSilence && !this.#seg.speechIn(to, to + ahead) ? to : null;
  }

  /** Ends the open segment at frame `cut` (≤ done); the committed frames after it begin the next segment. */
  #cutAt(cut: number): void {
    const seg = this.#segment!;
    const C = this.#classes;
    const keep = cut - seg.first;
    const rest = seg.emissions.slice(keep * C, seg.frames * C);
    this.#final(this.#decode(undefined, keep), 'silence', keep);
    if (rest.length === 0) return;
    this.#segment = { first: cut, emissions: rest, frames: rest.length / C };
    if (rest.length < 64 * C) {
      this.#segment.emissions = new Float32Array(64 * C);
      this.#segment.emissions.set(rest);
    }
  }

  /** Commits every frame the audio received so far gives, and ends the segment. */
  async #flush(reason: FinalEvent['reason']): Promise<void> {
    const S = this.plan.frameStride;
    const RF = this.plan.receptiveField;
    const start = this.#windowStart();
    const frames = this.#received - start < RF ? 0 : Math.floor((this.#received - start - RF) / S) + 1;
    const from = this.#done - start / S;
    if (!this.#segment && frames > from && this.#seg.speechIn(this.#done - this.#margin, Infinity)) this.#openSegment();
    if (this.#segment && frames > from) {
      const em = await this.#emissions(start, start / S + frames);
      this.#commit(em, from, frames);
    }
    if (this.#segment) this.#final(this.#decode(), reason);
  }

  /** First sample of the next window: `left` before the chunk, or (segmentContext) no earlier than the open segment. */
  #windowStart(): number {
    const S = this.plan.frameStride;
    const start = Math.max(0, this.#done * S - this.plan.left);
    return this.plan.segmentContext ? Math.max(start, (this.#segment?.first ?? this.#done) * S) : start;
  }

  /**
   * Where the sound that `onset` (the first speech frame) belongs to begins (see SOUND_DB): a window that starts
   * inside a sound begins with a click, which the model reads as a letter.
   */
  #leadIn(onset: number): number {
    let k = onset;
    while (k > Math.max(0, onset - this.#edge) && this.#seg.energy(k - 1) > this.#sound) k--;
    return k;
  }

  /** First speech frame of [from, to) as far as heard, or null. */
  #firstSpeech(from: number, to: number): number | null {
    for (let p = Math.max(0, from); p < Math.min(to, this.#seg.frames); p++) if (this.#seg.speechIn(p, p + 1)) return p;
    return null;
  }

  /**
   * Emissions of frames [start/S, end) (the receptive field's overhang past the last one included): the model sees
   * the segment's audio to the end of its last sound in the window (see SOUND_DB), stopping at the first silence long
   * enough to end the segment (speech after that is the next segment's); the frames after are blank, and the model
   * does not run at all when none is left.
   */
  async #emissions(start: number, end: number): Promise<Tensor> {
    const S = this.plan.frameStride;
    const C = this.#classes;
    const voiced = this.#voicedEnd(end);
    const first = start / S;
    if (voiced >= end) return this.#run(start, (end - 1) * S + this.plan.receptiveField);
    const out = new Float32Array((end - first) * C);
    for (let f = 0; f < end - first; f++) out.fill(BLANK_OTHERS, f * C, (f + 1) * C)[f * C + this.#decoder.blank] = 0;
    if (voiced > this.#done) {
      const em = await this.#run(start, (voiced - 1) * S + this.plan.receptiveField);
      out.set(em.data.subarray(0, Math.min(em.shape[0]!, voiced - first) * C));
    }
    return { data: out, shape: [end - first, C] };
  }

  /** Where the segment's audio ends for the model, as a frame ≤ `end` (see #emissions). */
  #voicedEnd(end: number): number {
    // Flags are kept back to a silence's length before `done`; a longer silence would have closed the segment.
    const floor = this.#segment ? Math.max(this.#segment.first, this.#done - this.#minSilence) : this.#done;
    let last = this.#segment ? floor - 1 : -1;
    let run = 0;
    for (let p = floor; p < end; p++) {
      if (this.#seg.speechIn(p, p + 1)) {
        last = p;
        run = 0;
      } else if (last >= 0 && ++run >= this.#minSilence) break;
    }
    if (last < 0) return end;
    // Over the sound's decay under the speech threshold, as #leadIn does before an onset (energy() of a frame not yet
    // heard is Infinity: the decay ends there).
    let k = last + 1;
    while (k < Math.min(end, last + 1 + this.#edge) && this.#seg.energy(k) > this.#sound && this.#seg.energy(k) !== Infinity) k++;
    return Math.min(end, k + this.#tail);
  }

  async #run(start: number, end: number): Promise<Tensor> {
    this.#windows++;
    const em = await this.#infer(this.#buf.slice(start - this.#bufStart, end - this.#bufStart));
    if (em.shape.length !== 2 || em.shape[1] !== this.#classes) {
      throw new Wav2Vec2Error('INFERENCE_FAILED', `stream window: expected emissions [frames, ${this.#classes}], got [${em.shape.join(', ')}].`);
    }
    return em;
  }

  #openSegment(): void {
    this.#segment = { first: this.#done, emissions: new Float32Array(64 * this.#classes), frames: 0 };
  }

  /** Appends frames [from, to) of a window's emissions to the segment. */
  #commit(em: Tensor, from: number, to: number): void {
    const seg = this.#segment!;
    const C = this.#classes;
    const n = Math.max(0, Math.min(to, em.shape[0]!) - from);
    if ((seg.frames + n) * C > seg.emissions.length) {
      const grown = new Float32Array(Math.max((seg.frames + n) * C, seg.emissions.length * 2));
      grown.set(seg.emissions.subarray(0, seg.frames * C));
      seg.emissions = grown;
    }
    seg.emissions.set(em.data.subarray(from * C, (from + n) * C), seg.frames * C);
    seg.frames += n;
    this.#done += n;
  }

  /** Greedy decoding of the segment's committed frames (and `more` frames after them). */
  #decode(more?: Float32Array, frames = this.#segment!.frames): GreedyCTCResult {
    const seg = this.#segment!;
    const C = this.#classes;
    let data = seg.emissions.subarray(0, frames * C);
    if (more && more.length > 0) {
      const all = new Float32Array(data.length + more.length);
      all.set(data);
      all.set(more, data.length);
      data = all;
    }
    return this.#decoder.decode({ data, shape: [data.length / C, C] });
  }

  #partial(text: string, stable: number): void {
    if (text === this.#last.text && stable === this.#last.stable) return;
    this.#last = { text, stable };
    this.#onEvent({ type: 'partial', segment: this.#segmentIndex, text, stable });
  }

  #closeReason(r: GreedyCTCResult): FinalEvent['reason'] | null {
    const seg = this.#segment!;
    if (seg.frames >= this.#maxSegment) return 'max-length';
    if (r.words.length === 0) return null;
    let run = 0;
    const { blank, wordDelimiter } = this.#decoder;
    for (let t = r.path.length - 1; t >= 0 && (r.path[t] === blank || r.path[t] === wordDelimiter); t--) run++;
    return run >= this.#blankRun ? 'blank' : null;
  }

  /** Emits the open segment's final (its first `frames` frames) and closes it. */
  #final(r: GreedyCTCResult, reason: FinalEvent['reason'], frames = this.#segment!.frames): void {
    const seg = this.#segment!;
    const { frameStride: S, sampleRate } = this.plan;
    const offset = (seg.first * S) / sampleRate;
    const words = wordsJson(r.words, offset);
    this.#segment = null;
    this.#last = { text: '', stable: 0 };
    // A segment of noise or breath without words gives no final (and takes no index).
    if (words.length === 0) return;
    this.#onEvent({
      type: 'final', segment: this.#segmentIndex++, start: seconds(offset), end: seconds(((seg.first + frames) * S) / sampleRate),
      text: words.map((w) => w.word).join(' '), words, reason,
    });
  }
}

/** Words of a greedy result that are followed by a word delimiter: no later frame can change them. */
export function stableWords(r: GreedyCTCResult, decoder: GreedyCTCDecoder): number {
  let words = 0;
  let inWord = false;
  let stable = 0;
  for (const t of r.indices) {
    if (t === decoder.wordDelimiter) {
      if (inWord) words++;
      inWord = false;
      stable = words;
    } else if (t !== decoder.blank) inWord = true;
  }
  return stable;
}
