export { loadModel, Model, setNumThreads, getNumThreads, cudaDeviceCount } from './model';
export type { LoadModelOptions, ForwardOptions, ExtractFeaturesOptions, ForwardResult, FeaturesResult, ModelInfo, Device, DType } from './model';
export type { ModelInput } from './batch';
export { normalizeItems } from './batch';
export type { Tensor } from './tensor';
export { Wav2Vec2Error } from './errors';
export type { ErrorCode } from './errors';
export type { ModelManifest } from './manifest';
export { framesFor, readManifest } from './manifest';
