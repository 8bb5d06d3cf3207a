/**
 * Long audio cut on speech (the `segment: 'speech'` option of batch jobs): the stream segmenter's rules
 * (lib/stream/segmenter.ts, SpeechCutter) place each cut in the middle of a pause, or at the quietest frame of a
 * segment that reaches its longest, and each piece is transcribed whole, with no context from its neighbours (as one
 * utterance; the model was trained on single utterances).
 *
 * Pieces tile the file's frames exactly, as windows.ts's kept frames do: cuts are on the frame grid, and piece
 * [a, b) is given the receptive field's overhang past b (b + RF − S samples), so it yields (b − a)/S frames, frame f
 * being frame a/S + f of the file; the last piece ends with the file. Timestamps, subtitles and features thus come out
 * in file time with the same frame count as the whole file.
 *
 * Memory: the samples from the last cut on are held, at most `maxSegmentMs` plus one chunk of the audio stage, however
 * long the file.
 */
import { SpeechCutter, type SegmenterConfig } from '../stream/segmenter';
import { SampleRun, stageChunks, type Piece, type PieceAudio, type PieceSource } from './windows';

export interface SpeechPlan {
  segmenter: SegmenterConfig;
  frameStride: number;
  receptiveField: number;
  /** Longest piece, samples (maxSegmentMs on the frame grid, with the overhang). */
  longest: number;
}

export function speechPlan(segmenter: SegmenterConfig, sampleRate: number, frameStride: number, receptiveField: number): SpeechPlan {
  const frames = Math.ceil(((segmenter.maxSegmentMs / 1000) * sampleRate) / frameStride);
  return { segmenter, frameStride, receptiveField, longest: (frames + 1) * frameStride + receptiveField - frameStride };
}

/** Reads `file` as a stream at `sampleRate` and yields its pieces cut on speech; `source` is filled in as it goes. */
export async function* readSpeechPieces(file: string, sampleRate: number, plan: SpeechPlan, source: PieceSource, audio: PieceAudio = {}): AsyncGenerator<Piece> {
  const { frameStride: S, receptiveField: RF } = plan;
  const cutter = new SpeechCutter(S, sampleRate, plan.segmenter);
  // The samples from the last cut (absolute index `start`) on.
  const run = new SampleRun(1 << 16);
  let start = 0;
  let index = 0;
  for await (const chunk of stageChunks(file, sampleRate, audio)) {
    source.sourceRate = chunk.sourceRate;
    source.samples += chunk.samples.length;
    run.append(chunk.samples);
    for (const frame of cutter.push(chunk.samples)) {
      // A cut is decided at a frame already read, so the overhang past it is here.
      const n = frame * S - start;
      yield { index, samples: run.head(n + RF - S), offset: start, keep: { from: 0, to: null }, last: false, wordBreak: index > 0 };
      index++;
      run.drop(n);
      start += n;
    }
  }
  // A short word still gets a frame (as readPieces does for a short file).
  const samples = run.takeAll(RF);
  yield { index, samples, offset: start, keep: { from: 0, to: null }, last: true, wordBreak: index > 0 };
}
