import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { renderEmission, renderFeatures } from '../plot';
import { loadForModel, padToReceptiveField } from '../transcribe';
import { addModelOptions, openModel, positiveInt, type ModelCliOptions } from './options';

export function plotCommand(): Command {
  const cmd = new Command('plot')
    .description("draw the tutorial's pictures as PNG: per-layer feature heatmaps and the emission heatmap")
    .argument('<file>', 'audio file');
  addModelOptions(cmd)
    .option('--layers <n>', 'feature layers to draw (default: all)', positiveInt('--layers'))
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .action(async (file: string, o: ModelCliOptions & { layers?: number; out: string }) => {
      const model = await openModel(o);
      try {
        const { samples } = await loadForModel(model, file);
        const x = padToReceptiveField(model, samples);
        await mkdir(o.out, { recursive: true });
        const written: string[] = [];
        if (model.info.hasExtractFeatures) {
          const { features } = await model.extractFeatures(x, o.layers ? { numLayers: o.layers } : {});
          const p = join(o.out, 'features.png');
          await writeFile(p, renderFeatures(features));
          written.push(p);
        } else {
          process.stderr.write('wav2vec2: this model has no extract_features method: drawing the emission only\n');
        }
        const { emissions } = await model.forward(x);
        const p = join(o.out, 'emission.png');
        await writeFile(p, renderEmission(emissions, model.labels));
        written.push(p);
        for (const w of written) process.stdout.write(w + '\n');
      } finally {
        model.dispose();
      }
    });
  return cmd;
}
