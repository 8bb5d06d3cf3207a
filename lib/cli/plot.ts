import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { renderEmission, renderFeatures } from '../output/plot';
import { addModelOptions, positiveInt, withClip, type ModelCliOptions } from './options';

export function plotCommand(): Command {
  const cmd = new Command('plot')
    .description("draw the tutorial's pictures as PNG: per-layer feature heatmaps and the emission heatmap")
    .argument('<file>', 'audio file');
  addModelOptions(cmd)
    .option('--num-layers <n>', 'draw the first N transformer layers (default: all)', positiveInt('--num-layers'))
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .action((file: string, o: ModelCliOptions & { numLayers?: number; out: string }) =>
      withClip(o, file, async (model, x) => {
        await mkdir(o.out, { recursive: true });
        const written: string[] = [];
        if (model.info.hasExtractFeatures) {
          const { features } = await model.extractFeatures(x, o.numLayers ? { numLayers: o.numLayers } : {});
          written.push(join(o.out, 'features.png'));
          await writeFile(written[0]!, renderFeatures(features));
        } else {
          process.stderr.write('wav2vec2: this model has no extract_features method: drawing the emission only\n');
        }
        const { emissions } = await model.forward(x);
        written.push(join(o.out, 'emission.png'));
        await writeFile(written[written.length - 1]!, renderEmission(emissions, model.labels));
        for (const w of written) process.stdout.write(w + '\n');
      }));
  return cmd;
}
