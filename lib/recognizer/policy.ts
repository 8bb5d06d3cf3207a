/**
 * Which requests may share a batch without changing anyone's result. The Recognizer promises that a batched
 * request gets what it would get alone (emissions within 1e-4, the same transcript), so it only groups items
 * the model runs exactly in a batch:
 *
 * - Equal lengths: always exact (no padding; measured ≤ 8e-6 on every fixture and the traced default model).
 * - Different lengths (padded, with per-item lengths): exact only for models that take the lengths (torchaudio
 *   convention) AND have a layer-norm conv feature extractor (LARGE-LV60K/XLSR/HuBERT-large style, measured
 *   ≤ 1.3e-6 on ta_tiny_lv60k). torchaudio's group-norm extractor (BASE style) normalises each channel over
 *   the whole padded time axis, so the padding shifts a shorter item's output: 0.40 on ta_tiny_base.
 *   Traced models take no lengths at all: Model.forward runs their ragged items one at a time, so grouping
 *   different lengths would gain nothing while equal-length groups do run as one batch.
 *
 * The manifest's `paddedBatchExact` says it outright when the exporter knows (scripts/export_hf.py's
 * length-aware exports mask the padding in their GroupNorm too): it wins over the extractor kind. A model that
 * takes lengths and says so gets padded batches from here without any change to the Recognizer.
 */
import { getBundle } from '../model/bundles';
import type { ModelManifest } from '../model/manifest';
import type { Model } from '../model/model';

export type ExtractorNorm = 'group' | 'layer' | 'unknown';

/** How the batcher may group: one request at a time, equal lengths only, or lengths within `maxPadding` of each other. */
export type GroupingPolicy = { kind: 'single' } | { kind: 'equal-length' } | { kind: 'similar-length'; maxPadding: number };

/**
 * Padding a batch may add, as a fraction of its shortest item (0.25: the longest is at most 1.25× the
 * shortest). Padded samples cost compute; bounding them keeps a batch's cost close to the sum of its items'.
 */
export const DEFAULT_MAX_PADDING = 0.25;

/**
 * The conv feature extractor's normalisation, from what the exporters record in the manifest's `source`:
 * `featExtractNorm` (scripts/export_hf.py), `architecture.featExtractNorm` (the default model),
 * `params.extractor_mode` / `params.extractorMode` (torchaudio factory arguments) or `bundle` (a torchaudio
 * bundle name, looked up in the bundle table). Unknown when none of these is there.
 */
export function extractorNorm(manifest: ModelManifest | undefined): ExtractorNorm {
  const source = manifest?.source as Record<string, unknown> | undefined;
  if (!source) return 'unknown';
  const read = (v: unknown): ExtractorNorm | null => {
    if (v === 'group' || v === 'group_norm') return 'group';
    if (v === 'layer' || v === 'layer_norm') return 'layer';
    return null;
  };
  const arch = source.architecture as Record<string, unknown> | undefined;
  const params = source.params as Record<string, unknown> | undefined;
  const direct = read(source.featExtractNorm) ?? read(arch?.featExtractNorm) ?? read(params?.extractor_mode) ?? read(params?.extractorMode);
  if (direct) return direct;
  if (typeof source.bundle === 'string') {
    try {
      return read(getBundle(source.bundle).params?.extractorMode) ?? 'unknown';
    } catch {
      return 'unknown';
    }
  }
  return 'unknown';
}

/** The grouping that keeps batched results equal to single ones for this model (see the module comment). */
export function groupingFor(model: Pick<Model, 'info' | 'manifest'>, maxPadding = DEFAULT_MAX_PADDING): GroupingPolicy {
  // Dynamic int8 quantisation (scripts/export_hf.py --quantize int8) scales each call's activations by the
  // whole batch's range: any neighbour, even of equal length, changes an item's result. No batching then. (A model
  // built natively with dtype 'int8' scales each row by its own range, native/builder/int8.h, and batches.)
  if ((model.manifest?.source as { quantization?: unknown } | undefined)?.quantization) return { kind: 'single' };
  const takesLengths = model.info.convention !== 'traced';
  // Unknown counts as inexact: grouping equal lengths only is always exact.
  const exact = model.manifest?.paddedBatchExact ?? extractorNorm(model.manifest) === 'layer';
  return takesLengths && exact ? { kind: 'similar-length', maxPadding } : { kind: 'equal-length' };
}
