/** Moved to the audio stage (lib/pipeline/audio); kept here for existing imports. */
export { StreamResampler } from '../pipeline/audio/stream-resampler';
