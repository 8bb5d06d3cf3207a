/**
 * The path from audio to words that the CLI, batch jobs and servers share: load and resample audio to the
 * model's rate, run the model, decode with greedy or beam search. One place, so every front end agrees.
 */
import { loadAudio, type AudioInput } from './audio';
import { CTCBeamSearchDecoder, GreedyCTCDecoder, Lexicon, NGramLanguageModel, type Hotwords, type Word } from './decode';
import { checkHotwords } from './decode/hotwords';
import { Wav2Vec2Error, invalid } from './errors';
import { isObject, isPositiveInteger } from './is';
import { manifestPathFor } from './manifest';
import type { Model } from './model';
import { itemOf, type Tensor } from './tensor';

export interface DecoderOptions {
  /** 'greedy' (default) or 'beam'. */
  decoder?: 'greedy' | 'beam';
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
export function createDecoder(model: Model, options: DecoderOptions = {}): BoundDecoder {
  checkDecoderOptions(options);
  const labels = model.labels;
  if (!labels) {
    throw new Wav2Vec2Error('INVALID_MANIFEST',
      `The model ${model.info.file} has no labels: decoding needs its manifest (${manifestPathFor(model.info.file)}) with "labels". ` +
      'Export models with scripts/export_torchaudio.py or scripts/export_hf.py, which write it.');
  }
  const blank = model.manifest?.blank ?? 0;
  const wordDelimiter = model.manifest?.wordDelimiter ?? null;
  const timing = { frameStride: model.frameStride, sampleRate: model.sampleRate };
  const kind = options.decoder ?? 'greedy';
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

/** Checked before anything loads (the LM, the lexicon), with the code the beam decoder would give each mistake. */
export function checkDecoderOptions(o: DecoderOptions): void {
  if (!isObject(o as unknown)) throw invalid('DECODE_INVALID_INPUT', 'decoder options', 'an object', o);
  if (o.decoder !== undefined && o.decoder !== 'greedy' && o.decoder !== 'beam') throw invalid('DECODE_INVALID_INPUT', 'decoder', "'greedy' or 'beam'", o.decoder);
  if ((o.decoder ?? 'greedy') === 'greedy') {
    for (const k of ['lm', 'lexicon', 'hotwords'] as const) {
      if (o[k] !== undefined) throw invalid('DECODE_INVALID_INPUT', k, `no ${k} with the greedy decoder (use decoder 'beam')`, o[k]);
    }
  }
  // the beam decoder's own check, here so that a greedy decoder's options are checked too
  if (o.hotwords !== undefined) checkHotwords(o.hotwords);
  if (o.beamSize !== undefined && !isPositiveInteger(o.beamSize)) throw invalid('DECODE_INVALID_INPUT', 'beamSize', 'a positive integer', o.beamSize);
  for (const k of ['lmWeight', 'wordScore'] as const) {
    if (o[k] !== undefined && !Number.isFinite(o[k])) throw invalid('DECODE_INVALID_INPUT', k, 'a finite number', o[k]);
  }
}

/** Decoded, mono, at the model's rate: what forward() needs from a file, Buffer or stream. */
export async function loadForModel(model: Model, input: AudioInput): Promise<{ samples: Float32Array; duration: number; sourceRate: number }> {
  const audio = await loadAudio(input, { mono: true, sampleRate: model.sampleRate });
  const samples = audio.channels[0]!;
  return { samples, duration: samples.length / model.sampleRate, sourceRate: audio.source.sampleRate };
}

/** Pads clips shorter than the receptive field with silence, so that a short word still gets a frame. */
export function padToReceptiveField(model: Model, samples: Float32Array): Float32Array {
  if (samples.length >= model.receptiveField) return samples;
  const out = new Float32Array(model.receptiveField);
  out.set(samples);
  return out;
}

/** One utterance: audio in, transcript out. */
export async function transcribe(model: Model, input: AudioInput, decoder: BoundDecoder): Promise<Transcript & { duration: number }> {
  const { samples, duration } = await loadForModel(model, input);
  const { emissions } = await model.forward(padToReceptiveField(model, samples));
  return { ...decoder.decode(itemOf(emissions, 0)), duration };
}
