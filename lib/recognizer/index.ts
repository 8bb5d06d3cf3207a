/** Serving many callers with one model: dynamic batching with exact per-item results. */
export { createRecognizer, Recognizer } from './recognizer';
export { DEFAULT_MAX_BATCH_SECONDS } from './defaults';
export type { RecognizerOptions, RecognizeOptions, TranscribeOptions, FeaturesOptions, FeatureShape, Recognition, RecognizedFeatures, RecognizerStats, BatchInfo } from './recognizer';
export type { RecognizerAudio } from './input';
export { groupingFor, extractorNorm } from './policy';
export type { GroupingPolicy, ExtractorNorm } from './policy';
