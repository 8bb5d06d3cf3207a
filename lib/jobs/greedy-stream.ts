/**
 * Greedy CTC decoding of an emission that arrives in consecutive pieces, with the result of decoding the
 * concatenated emission once: the greedy path is the per-frame argmax, so only the seam needs care (a token whose
 * run of frames crosses it is one token, as in the whole). Keeping tokens instead of emissions makes the memory of
 * a long file's transcription grow with its words, not with its frames x labels.
 */
import { GreedyCTCDecoder } from '../decode';
import { groupByDelimiter, tokenSpan, wordSpans, type FramedToken } from '../decode/timestamps';
import type { Tensor } from '../tensor';
import type { Transcript } from '../pipeline/transcribe';

export class StreamingGreedyDecoder {
  readonly #decoder: GreedyCTCDecoder;
  // Emitted tokens, in parallel arrays: label index, first frame, end frame, summed per-frame probability.
  readonly #token: number[] = [];
  readonly #start: number[] = [];
  readonly #end: number[] = [];
  readonly #probSum: number[] = [];
  #frames = 0;
  /** Argmax label of the last frame seen (-1 before any). */
  #lastLabel = -1;

  /** Decodes with `decoder`'s labels, blank, delimiter and timing (the seams need token frames: see `frames`). */
  constructor(decoder: GreedyCTCDecoder) {
    this.#decoder = decoder.frames ? decoder : new GreedyCTCDecoder(decoder.labels, {
      blank: decoder.blank,
      wordDelimiter: decoder.wordDelimiter >= 0 ? decoder.labels[decoder.wordDelimiter]! : null,
      ...decoder.timeBase,
      frames: true,
    });
  }

  get frames(): number {
    return this.#frames;
  }

  /** The next `[frames, labels]` of the emission. */
  push(emission: Tensor): void {
    const F = emission.shape[0]!;
    if (F === 0) return;
    const r = this.#decoder.decode(emission);
    const offset = this.#frames;
    r.tokens.forEach((t, i) => {
      const start = t.startFrame!;
      const end = t.endFrame!;
      const sum = t.confidence * (end - start);
      // The previous piece ended inside a run of this very label: the run continues, so this is the same token.
      if (i === 0 && start === 0 && t.token === this.#lastLabel && t.token !== this.#decoder.blank && this.#token.length > 0) {
        const k = this.#token.length - 1;
        this.#end[k] = offset + end;
        this.#probSum[k]! += sum;
        return;
      }
      this.#token.push(t.token);
      this.#start.push(offset + start);
      this.#end.push(offset + end);
      this.#probSum.push(sum);
    });
    this.#lastLabel = r.path[F - 1]!;
    this.#frames += F;
  }

  /**
   * Ends the current word: the next token starts a new one even without a word delimiter between them (pieces cut on
   * silence, each transcribed whole, may end on a letter and begin on one). The delimiter added spans no frame.
   */
  breakWord(): void {
    const d = this.#decoder.wordDelimiter;
    if (d < 0 || this.#token.length === 0 || this.#token.at(-1) === d) return;
    this.#token.push(d);
    this.#start.push(this.#frames);
    this.#end.push(this.#frames);
    this.#probSum.push(0);
    this.#lastLabel = -1;
  }

  /** Words and text of everything pushed. */
  finish(): Transcript {
    const base = this.#decoder.timeBase;
    const labels = this.#decoder.labels;
    // The spans tokenSpans() would make, with confidences from the sums kept (the emissions are gone).
    const spans: FramedToken[] = this.#token.map((token, i) => {
      const start = this.#start[i]!;
      const end = this.#end[i]!;
      return tokenSpan(token, labels, start, end, end > start ? this.#probSum[i]! / (end - start) : 0, base);
    });
    const words = wordSpans(groupByDelimiter(this.#token, labels, this.#decoder.wordDelimiter), spans, base);
    return {
      text: words.map((w) => w.word).join(' '),
      words: words.map(({ word, start, end, confidence }) => ({ word, start, end, confidence })),
    };
  }
}
