/**
 * The path from audio to words that the CLI, batch jobs and servers share: load and resample audio to the
 * model's rate, run the model, decode with greedy or beam search. One place, so every front end agrees.
 */
import { loadAudio, type AudioInput } from '../audio';
import { CTCBeamSearchDecoder, GreedyCTCDecoder, Lexicon, NGramLanguageModel, type Hotwords, type Word } from '../decode';
import { checkHotwords } from '../decode/hotwords';
import { Wav2Vec2Error, checkOptionKeys, invalid, optionKeys } from '../errors';
import { isObject, isPositiveInteger } from '../is';
import { manifestPathFor } from '../model/manifest';
import type { Model } from '../model/model';
import { itemOf, type Tensor } from '../tensor';
import { resampleLikeStage } from './audio/resampler-cache';

export type DecoderType = 'greedy' | 'beam';

/**
 * The decoder, as every front end takes it (createDecoder, transcribe, createRecognizer, runBatchJob,
 * enqueueBatchJob): 'greedy', 'beam', or the full options.
 */
export type DecoderSpec = DecoderType | DecoderOptions;

export interface DecoderOptions {
  /** 'greedy' (default) or 'beam'; the beam-search options below need 'beam'. */
  type?: DecoderType;
  /** Beam search: ARPA language model path (or a loaded model). */
  lm?: string | NGramLanguageModel;
  /** Beam search: lexicon file path (word followed by its tokens per line) or a loaded Lexicon. */
  lexicon?: string | Lexicon;
  /**
   * Beam search: words to boost, as CTCBeamSearchDecoder takes them: `{ words, weight? }` (one boost for all, in
   * natural-log units per word; pyctcdecode's default 10) or a plain word list.
   */
  hotwords?: Hotwords | readonly string[];
  beamSize?: number;
  lmWeight?: number;
  wordScore?: number;
}

/** The front ends' part of a decoder's result (lib/decode/result.ts): the words, in seconds from the start of the audio. */
export interface Transcript {
  /** Words joined by spaces. */
  text: string;
  words: Word[];
}

/** A decoder bound to a model's labels and timing: emission [F, C] -> transcript. */
export interface BoundDecoder {
  readonly kind: 'greedy' | 'beam';
  decode(emission: Tensor): Transcript;
}

/**
 * Builds the decoder for a model from its manifest (labels, blank, word delimiter, frame timing). A bad option is
 * DECODE_INVALID_INPUT, as the decoders themselves throw it: one code for one mistake, whichever way it came in.
 */
export function createDecoder(model: Model, decoder: DecoderSpec = 'greedy'): BoundDecoder {
  let options = decoderOptionsOf(decoder);
  const labels = model.labels;
  if (!labels) {
    throw new Wav2Vec2Error('INVALID_MANIFEST',
      `The model ${model.info.file} has no labels: decoding needs its manifest (${manifestPathFor(model.info.file)}) with "labels". ` +
      'Export models with scripts/export_torchaudio.py or scripts/export_hf.py, which write it.');
  }
  const blank = model.manifest?.blank ?? 0;
  const wordDelimiter = model.manifest?.wordDelimiter ?? null;
  const timing = { frameStride: model.frameStride, sampleRate: model.sampleRate };
  const kind = options.type ?? 'greedy';
  if (kind === 'greedy') {
    const greedy = new GreedyCTCDecoder(labels, { blank, wordDelimiter, ...timing });
    return { kind, decode: (e) => { const r = greedy.decode(e); return { text: r.text, words: r.words }; } };
  }
  options = withModelLanguageModel(model, options);
  const beam = new CTCBeamSearchDecoder(labels, {
    blankToken: labels[blank],
    silToken: wordDelimiter,
    ...(options.lexicon !== undefined ? { lexicon: options.lexicon } : {}),
    ...(options.lm !== undefined ? { lm: options.lm } : {}),
    ...(options.hotwords !== undefined ? { hotwords: options.hotwords } : {}),
    ...(options.beamSize !== undefined ? { beamSize: options.beamSize } : {}),
    ...(options.lmWeight !== undefined ? { lmWeight: options.lmWeight } : {}),
    ...(options.wordScore !== undefined ? { wordScore: options.wordScore } : {}),
    ...timing,
  });
  return { kind, decode: (e) => { const best = beam.decode(e); return { text: best.text, words: best.words }; } };
}

/** The model's own LM (manifest.languageModel) with its weights, where the options name no LM of their own. */
function withModelLanguageModel(model: Model, options: DecoderOptions): DecoderOptions {
  const lm = model.manifest?.languageModel;
  if (!lm || options.lm !== undefined) return options;
  return { lmWeight: lm.lmWeight, wordScore: lm.wordScore, ...options, lm: lm.arpa };
}

const DECODER_OPTION_KEYS = optionKeys<DecoderOptions>({ type: true, lm: true, lexicon: true, hotwords: true, beamSize: true, lmWeight: true, wordScore: true });
const BEAM_ONLY = ['lm', 'lexicon', 'hotwords', 'beamSize', 'lmWeight', 'wordScore'] as const;

/**
 * A decoder spec as its options object, checked (everything but what needs the model's labels): 'greedy' and 'beam'
 * are `{ type }`; an object must have only known keys, and beam-search options only with type 'beam'.
 */
export function decoderOptionsOf(spec: DecoderSpec | undefined, what = 'decoder'): DecoderOptions {
  if (spec === undefined) return {};
  if (spec === 'greedy' || spec === 'beam') return { type: spec };
  if (!isObject(spec as unknown)) throw invalid('DECODE_INVALID_INPUT', what, "'greedy', 'beam' or decoder options ({ type: 'beam', beamSize, lm, ... })", spec);
  const o = spec as DecoderOptions;
  checkOptionKeys(what, o, DECODER_OPTION_KEYS);
  if (o.type !== undefined && o.type !== 'greedy' && o.type !== 'beam') throw invalid('DECODE_INVALID_INPUT', `${what}.type`, "'greedy' or 'beam'", o.type);
  if (o.type !== 'beam') {
    for (const k of BEAM_ONLY) {
      if (o[k] !== undefined) throw invalid('DECODE_INVALID_INPUT', `${what}.${k}`, `no ${k} with the greedy decoder (add type: 'beam')`, o[k]);
    }
  }
  // the beam decoder's own check, here so that it fails before a model loads
  if (o.hotwords !== undefined) checkHotwords(o.hotwords);
  if (o.beamSize !== undefined && !isPositiveInteger(o.beamSize)) throw invalid('DECODE_INVALID_INPUT', 'beamSize', 'a positive integer', o.beamSize);
  for (const k of ['lmWeight', 'wordScore'] as const) {
    if (o[k] !== undefined && !Number.isFinite(o[k])) throw invalid('DECODE_INVALID_INPUT', k, 'a finite number', o[k]);
  }
  return o;
}

/**
 * Decoded, mono, at the model's rate: what forward() needs from a file, Buffer or stream. Resampled as the audio stage
 * resamples (resampleLikeStage: the addon's conv1d where it can), so that it gives the Recognizer's and the batch
 * job's samples bit for bit.
 */
export async function loadForModel(model: Model, input: AudioInput): Promise<{ samples: Float32Array; duration: number; sourceRate: number }> {
  const audio = await loadAudio(input, { mono: true });
  const mono = audio.channels[0]!;
  const samples = audio.sampleRate === model.sampleRate ? mono : resampleLikeStage(mono, audio.sampleRate, model.sampleRate);
  return { samples, duration: samples.length / model.sampleRate, sourceRate: audio.source.sampleRate };
}

/** Pads clips shorter than the receptive field with silence, so that a short word still gets a frame. */
export function padToReceptiveField(model: Model, samples: Float32Array): Float32Array {
  if (samples.length >= model.receptiveField) return samples;
  const out = new Float32Array(model.receptiveField);
  out.set(samples);
  return out;
}

const isBound = (d: unknown): d is BoundDecoder => isObject(d) && typeof (d as { decode?: unknown }).decode === 'function';

/**
 * One utterance: audio in (a file path, bytes or a stream, any supported format and rate), transcript out. `decoder`
 * is a decoder from createDecoder (reuse it across calls: a beam decoder with an LM is costly to build) or a
 * decoder spec built for this call (default 'greedy').
 */
export async function transcribe(model: Model, input: AudioInput, decoder: BoundDecoder | DecoderSpec = 'greedy'): Promise<Transcript & { duration: number }> {
  if (!isBound(decoder)) decoder = createDecoder(model, decoder);
  const { samples, duration } = await loadForModel(model, input);
  const { emissions } = await model.forward(padToReceptiveField(model, samples));
  return { ...decoder.decode(itemOf(emissions, 0)), duration };
}
