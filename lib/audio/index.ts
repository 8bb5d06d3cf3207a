/** Everything audio: decoding, channel handling, resampling. */
export { loadAudio, streamAudio } from './load';
export type { AudioData, AudioChunk, AudioInput, LoadAudioOptions, StreamAudioOptions } from './load';
export { downmix, selectChannel } from './channels';
export { resample, Resampler } from './resample';
export type { ResampleOptions, ResamplingMethod, Waveform } from './resample';
export { detectFormat } from './detect';
export type { AudioFormat, Detection } from './detect';
