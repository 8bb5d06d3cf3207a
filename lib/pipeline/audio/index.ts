/**
 * The pipeline's audio stage: the one place audio comes in for the Recognizer (and the server) and the batch job.
 * Bytes or a path in, mono samples at the model's rate out, within a budget (duration, sample rates), on a pool of
 * worker threads. See docs/audio.md ("The audio stage").
 */
export { AudioPool, defaultPoolSize, type AudioPoolOptions, type PoolRequest } from './pool';
export { checkBudget, checkRate, tooLong, DEFAULT_MIN_RATE, DEFAULT_MAX_RATE, type AudioBudget, type AudioBudgetOptions } from './budget';
export { decodeToRate, type StageChunk, type StageRequest } from './decode';
export { StreamResampler } from './stream-resampler';
export { cachedResampler, resampleLikeStage, resamplerCacheStats } from './resampler-cache';
