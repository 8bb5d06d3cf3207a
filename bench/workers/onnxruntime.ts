/** Benchmark worker: onnxruntime-node on the ONNX export of the same model (scripts/export_onnx.py). */
import { writeFileSync } from 'node:fs';
import { peakRssMB, readF32, serve, timedWithLag } from './loop';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
let session: import('onnxruntime-node').InferenceSession | null = null;

serve({
  async load(req) {
    await session?.release();
    session = await ort.InferenceSession.create(req.path, {
      intraOpNumThreads: req.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: req.device && req.device !== 'cpu' ? ['cuda'] : ['cpu'],
    });
    return { inputs: session.inputNames, outputs: session.outputNames };
  },
  async run(req) {
    const data = readF32(req.input);
    const { value: out, ms, lagMs } = await timedWithLag(() => session!.run({ [session!.inputNames[0]!]: new ort.Tensor('float32', data, req.shape) }));
    const logits = out[session!.outputNames[0]!]!;
    if (req.out) writeFileSync(req.out, logits.data as Float32Array);
    return { ms, shape: logits.dims, lagMs, rssPeakMB: peakRssMB() };
  },
});
