import { Command } from 'commander';

/** `wav2vec2 bench`: the benchmark of `npm run bench` (bench/core.ts), from the installed package. */
export function benchCommand(): Command {
  return new Command('bench')
    .description('benchmark this package against Python (torch.jit) and onnxruntime-node on the same models, inputs and threads')
    .option('--quick', 'tiny model, batch 1 and 4 only')
    .option('--models <list>', 'comma-separated: tiny,base,large (random weights, built on first use with Python + transformers)')
    .option('--threads <list>', 'comma-separated thread counts (default: 2, plus 1 for base)')
    .option('--reps <n>', 'timed runs per runtime and scenario')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--model <file>', 'a TorchScript file of your own (its .onnx sibling, if any, for onnxruntime)')
    .option('--no-e2e', 'skip the end-to-end case')
    .action(async (o: { quick?: boolean; models?: string; threads?: string; reps?: string; device: string; model?: string; e2e: boolean }) => {
      const argv = [
        ...(o.quick ? ['--quick'] : []), ...(o.models ? ['--models', o.models] : []), ...(o.threads ? ['--threads', o.threads] : []),
        ...(o.reps ? ['--reps', o.reps] : []), '--device', o.device, ...(o.model ? ['--model', o.model] : []), ...(o.e2e ? [] : ['--no-e2e']),
      ];
      // Loaded on use: the benchmark pulls in the plotting and worker code that other commands never need.
      const { main } = await import('../../bench/core.js');
      await main(argv);
    });
}
