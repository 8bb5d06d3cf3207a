import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import { PACKAGE_ROOT } from '../paths';

/**
 * `wav2vec2 bench`: the benchmark of `npm run bench` (bench/core.ts), from the installed package. It runs as a child
 * process of its own rather than an import: the library does not depend on the benchmark (bench/ sits above lib/),
 * and the benchmark's plotting and worker code stay out of every other command.
 */
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
      // Compiled (the installed package: dist/lib/cli) runs dist/bench/core.js; from source, bench/core.ts with tsx.
      const compiled = !__filename.endsWith('.ts');
      const entry = join(PACKAGE_ROOT, ...(compiled ? ['dist', 'bench', 'core.js'] : ['bench', 'core.ts']));
      const child = spawn(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), entry, ...argv], { stdio: 'inherit' });
      const code = await new Promise<number>((resolve) => {
        child.on('error', () => resolve(1));
        child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
      });
      process.exitCode = code;
    });
}
