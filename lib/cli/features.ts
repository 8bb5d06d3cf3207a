import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { writeNpy } from '../output/npy';
import { addModelOptions, positiveInt, withClip, type ModelCliOptions } from './options';

export function featuresCommand(): Command {
  const cmd = new Command('features')
    .description('write per-layer transformer features of an audio file as .npy files (numpy.load reads them)')
    .argument('<file>', 'audio file');
  addModelOptions(cmd)
    .option('--num-layers <n>', 'the first N transformer layers (default: all)', positiveInt('--num-layers'))
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .action((file: string, o: ModelCliOptions & { numLayers?: number; out: string }) =>
      withClip(o, file, async (model, x) => {
        const { features } = await model.extractFeatures(x, o.numLayers ? { numLayers: o.numLayers } : {});
        await mkdir(o.out, { recursive: true });
        for (let i = 0; i < features.length; i++) {
          const f = features[i]!;
          // [1, frames, dim] -> [frames, dim]: one utterance per file.
          const path = join(o.out, `layer${String(i + 1).padStart(2, '0')}.npy`);
          await writeNpy(path, { data: f.data, shape: f.shape.slice(1) });
          process.stdout.write(`${path}  [${f.shape.slice(1).join(', ')}]\n`);
        }
      }));
  return cmd;
}
