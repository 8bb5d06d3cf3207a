/** Benchmark worker: this package (loadModel + forward), speaking bench/workers/loop.ts's protocol. */
import { writeFileSync } from 'node:fs';
import { setCpuCacheLimit } from '../../lib/model/memory';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { createDecoder, transcribe } from '../../lib/pipeline/transcribe';
import { peakRssMB, readF32, serve, timedWithLag } from './loop';

let model: Model | null = null;

serve({
  async load(req) {
    model?.dispose();
    // an ablation of the benchmark: the CPU tensor cache off (limit 0) shows what it buys
    if (req.cpuCacheLimit !== undefined) setCpuCacheLimit(req.cpuCacheLimit);
    // manifest: false for raw forward timing (Python and onnxruntime get the same un-normalised input);
    // the end-to-end case loads with the manifest (labels, normalisation), as users do
    if (req.hub) {
      // the same weights built natively (lib/builder) from their Hugging Face folder instead of the TorchScript export;
      // its preprocessor config asks for no normalisation, so forward sees the same input as the others
      model = await loadModel(req.hub, { threads: req.threads, device: req.device ?? 'cpu', dtype: req.dtype ?? 'float32', optimize: req.optimize ?? true });
      return { convention: model.info.convention };
    }
    model = await loadModel(req.path, { threads: req.threads, device: req.device ?? 'cpu', dtype: req.dtype ?? 'float32', optimize: req.optimize ?? true, ...(req.manifest ? {} : { manifest: false }) });
    return { convention: model.info.convention };
  },
  async run(req) {
    const data = readF32(req.input);
    const { value: out, ms, lagMs } = await timedWithLag(() => model!.forward({ data, shape: req.shape }));
    if (req.out) writeFileSync(req.out, out.emissions.data);
    return { ms, shape: out.emissions.shape, lagMs, rssPeakMB: peakRssMB() };
  },
  async e2e(req) {
    // What a user of the package runs: file -> decode -> resample -> forward -> greedy (lib/pipeline/transcribe.ts).
    const t0 = performance.now();
    const { text } = await transcribe(model!, req.file, createDecoder(model!));
    return { ms: performance.now() - t0, text, rssPeakMB: peakRssMB() };
  },
});
