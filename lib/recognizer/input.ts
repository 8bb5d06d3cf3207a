/**
 * What a Recognizer accepts as audio, turned into mono samples at the model's rate. Files and encoded bytes go
 * through the audio stage (lib/pipeline/audio): decoded on a worker thread within the duration limit and the
 * sample-rate range, so a small compressed upload that decodes to hours of audio is refused before it fills
 * memory or holds the event loop. The samples are the same as loadForModel's (a test checks it).
 */
import { type AudioBudget, type AudioPool, checkRate, resampleLikeStage, tooLong } from '../pipeline/audio';
import { Wav2Vec2Error, invalid } from '../errors';
import { firstNonFinite, isFloat32Array, isObject, isPositiveInteger } from '../is';
import type { Model } from '../model/model';

/** A file path, the bytes of an encoded file (WAV, FLAC, MP3, Ogg Vorbis), or raw samples with their rate. */
export type RecognizerAudio = string | Uint8Array | ArrayBuffer | { samples: Float32Array; sampleRate: number };

export interface PreparedAudio {
  /** Mono, at the model's rate, a private copy (the caller may reuse their buffer at once). */
  samples: Float32Array;
  /** Seconds of audio before any padding. */
  duration: number;
}

/** Raw samples: checked here, resampled on this thread (they are already decoded; the rate range still applies). */
function prepareSamples(model: Model, audio: { samples: Float32Array; sampleRate: unknown }, budget: AudioBudget): PreparedAudio {
  if (!isPositiveInteger(audio.sampleRate)) throw invalid('INVALID_INPUT', 'audio.sampleRate', 'a positive integer (Hz)', audio.sampleRate);
  const { samples } = audio;
  const rate = audio.sampleRate;
  checkRate(rate, budget, 'audio.sampleRate');
  if (samples.length === 0) throw new Wav2Vec2Error('AUDIO_EMPTY', 'audio.samples is empty.');
  if (samples.length / rate > budget.maxSeconds) throw tooLong(samples.length / rate, budget.maxSeconds, 'samples');
  const bad = firstNonFinite(samples);
  if (bad >= 0) {
    throw new Wav2Vec2Error('INVALID_INPUT', `audio.samples: expected finite samples, got ${samples[bad]} at sample ${bad}.`);
  }
  // Resampling always returns a new array, which is the private copy the queue needs (the caller's buffer
  // may change while the request waits). As the audio stage resamples (the addon's conv1d where it can).
  const out = resampleLikeStage(samples, rate, model.sampleRate);
  return { samples: out, duration: out.length / model.sampleRate };
}

/** Decodes / checks / resamples one request's audio. Errors are coded and belong to this request alone. */
export async function prepareAudio(model: Model, audio: RecognizerAudio, budget: AudioBudget, pool: AudioPool, signal?: AbortSignal): Promise<PreparedAudio> {
  if (typeof audio === 'string' || audio instanceof Uint8Array || audio instanceof ArrayBuffer) {
    if (typeof audio === 'string' && audio.length === 0) throw invalid('INVALID_INPUT', 'input', 'a file path, a Buffer/Uint8Array, an ArrayBuffer or an async iterable of Uint8Array', audio);
    const { samples } = await pool.decode({ input: audio, targetRate: model.sampleRate, budget }, signal);
    return { samples, duration: samples.length / model.sampleRate };
  }
  if (isObject(audio) && isFloat32Array(audio.samples)) return prepareSamples(model, audio, budget);
  throw invalid('INVALID_INPUT', 'audio',
    'a file path, a Buffer/Uint8Array/ArrayBuffer of an encoded file, or { samples: Float32Array, sampleRate }', audio);
}
