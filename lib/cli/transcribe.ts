import { basename } from 'node:path';
import { Command } from 'commander';
import { transcriptJson } from '../output';
import { createDecoder, transcribe } from '../pipeline/transcribe';
import { addDecoderOptions, addModelOptions, decoderOptionsFrom, openModel, type DecoderCliOptions, type ModelCliOptions } from './options';

interface TranscribeCliOptions extends ModelCliOptions, DecoderCliOptions {
  timestamps: boolean;
  json: boolean;
}

export function transcribeCommand(): Command {
  const cmd = new Command('transcribe')
    .description('transcribe audio files (WAV, FLAC, MP3, OGG Vorbis; any sample rate) to text')
    .argument('<files...>', 'audio files');
  addDecoderOptions(addModelOptions(cmd))
    .option('--timestamps', 'print word start and end times and confidences (with --json: a words array)', false)
    .option('--json', 'print one JSON object per file', false)
    .action(async (files: string[], o: TranscribeCliOptions) => {
      const options = decoderOptionsFrom(o);
      const model = await openModel(o);
      try {
        const decoder = createDecoder(model, options);
        for (const file of files) {
          const r = await transcribe(model, file, decoder);
          if (o.json) {
            process.stdout.write(JSON.stringify({ file, ...transcriptJson({ text: r.text, duration: r.duration, ...(o.timestamps ? { words: r.words } : {}) }), decoder: decoder.kind, model: model.info.file }) + '\n');
            continue;
          }
          const prefix = files.length > 1 ? `${basename(file)}: ` : '';
          process.stdout.write(prefix + r.text + '\n');
          if (o.timestamps) {
            for (const w of r.words) process.stdout.write(`  ${w.start.toFixed(2).padStart(7)} ${w.end.toFixed(2).padStart(7)}  ${w.word}  (${(w.confidence * 100).toFixed(0)}%)\n`);
          }
        }
      } finally {
        model.dispose();
      }
    });
  return cmd;
}
