/**
 * What a Recognizer accepts as audio, turned into mono samples at the model's rate. Files and encoded bytes are
 * decoded chunk by chunk and given up as soon as they pass the duration limit, so a small compressed upload
 * that decodes to hours of audio is refused before it fills memory. The samples are the same as
 * loadForModel's (same decoder, downmix and resampler; a test checks it).
 */
import { streamAudio } from '../audio/load';
import { Resampler } from '../audio/resample';
import { Wav2Vec2Error, invalid } from '../errors';
import { firstNonFinite, isFloat32Array, isObject, isPositiveInteger } from '../is';
import type { Model } from '../model';

/** A file path, the bytes of an encoded file (WAV, FLAC, MP3, Ogg Vorbis), or raw samples with their rate. */
export type RecognizerAudio = string | Uint8Array | ArrayBuffer | { samples: Float32Array; sampleRate: number };

export interface PreparedAudio {
  /** Mono, at the model's rate, a private copy (the caller may reuse their buffer at once). */
  samples: Float32Array;
  /** Seconds of audio before any padding. */
  duration: number;
}

/**
 * `seconds` is the whole length for samples, but for a file only where decoding stopped (it stops at the chunk that
 * passes the limit): the message must not give that as the file's length.
 */
function tooLong(seconds: number, maxDuration: number, decodingStopped: boolean): Wav2Vec2Error {
  const got = decodingStopped ? `audio longer than ${maxDuration} s (decoding stopped at ${seconds.toFixed(1)} s)` : `${seconds.toFixed(1)} s`;
  return new Wav2Vec2Error('INPUT_TOO_LONG',
    `audio: at most ${maxDuration} s per request (maxDuration), got ${got}. Split long recordings into shorter clips.`);
}

async function decode(input: string | Uint8Array | ArrayBuffer, maxDuration: number): Promise<{ samples: Float32Array; sampleRate: number }> {
  const chunks: Float32Array[] = [];
  let n = 0;
  let rate = 0;
  for await (const chunk of streamAudio(input, { mono: true })) {
    rate = chunk.sampleRate;
    n += chunk.channels[0]!.length;
    // Leaving the loop closes the stream and frees the decoder.
    if (n / rate > maxDuration) throw tooLong(n / rate, maxDuration, true);
    chunks.push(chunk.channels[0]!);
  }
  if (chunks.length === 1) return { samples: chunks[0]!, sampleRate: rate };
  const samples = new Float32Array(n);
  let o = 0;
  for (const c of chunks) {
    samples.set(c, o);
    o += c.length;
  }
  return { samples, sampleRate: rate };
}

/** Decodes / checks / resamples one request's audio. Errors are coded and belong to this request alone. */
export async function prepareAudio(model: Model, audio: RecognizerAudio, maxDuration: number): Promise<PreparedAudio> {
  let samples: Float32Array;
  let rate: number;
  if (typeof audio === 'string' || audio instanceof Uint8Array || audio instanceof ArrayBuffer) {
    ({ samples, sampleRate: rate } = await decode(audio, maxDuration));
  } else if (isObject(audio) && isFloat32Array(audio.samples)) {
    if (!isPositiveInteger(audio.sampleRate)) throw invalid('INVALID_INPUT', 'audio.sampleRate', 'a positive integer (Hz)', audio.sampleRate);
    samples = audio.samples;
    rate = audio.sampleRate;
    if (samples.length === 0) throw new Wav2Vec2Error('AUDIO_EMPTY', 'audio.samples is empty.');
    if (samples.length / rate > maxDuration) throw tooLong(samples.length / rate, maxDuration, false);
    const bad = firstNonFinite(samples);
    if (bad >= 0) {
      throw new Wav2Vec2Error('INVALID_INPUT', `audio.samples: expected finite samples, got ${samples[bad]} at sample ${bad}.`);
    }
  } else {
    throw invalid('INVALID_INPUT', 'audio',
      'a file path, a Buffer/Uint8Array/ArrayBuffer of an encoded file, or { samples: Float32Array, sampleRate }', audio);
  }
  // Resampling always returns a new array, which is the private copy the queue needs (the caller's buffer
  // may change while the request waits).
  const out = new Resampler(rate, model.sampleRate).resample(samples);
  return { samples: out, duration: out.length / model.sampleRate };
}
