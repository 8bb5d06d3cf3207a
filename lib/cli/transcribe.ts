import { basename } from 'node:path';
import { Command } from 'commander';
import { createDecoder, transcribe, type DecoderOptions } from '../transcribe';
import { Wav2Vec2Error } from '../errors';
import { addModelOptions, number, openModel, positiveInt, type ModelCliOptions } from './options';

interface TranscribeCliOptions extends ModelCliOptions {
  decoder: 'greedy' | 'beam';
  lm?: string;
  lexicon?: string;
  hotword: string[];
  beamSize?: number;
  lmWeight?: number;
  wordScore?: number;
  timestamps: boolean;
  json: boolean;
}

/** `WORD` or `WORD:BOOST`. */
function hotword(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseHotwords(values: string[]): DecoderOptions['hotwords'] {
  return values.map((v) => {
    const i = v.lastIndexOf(':');
    if (i < 0) return { word: v };
    const weight = Number(v.slice(i + 1));
    if (!Number.isFinite(weight) || i === 0) throw new Wav2Vec2Error('INVALID_INPUT', `--hotword: expected WORD or WORD:BOOST, got "${v}".`);
    return { word: v.slice(0, i), weight };
  });
}

export function transcribeCommand(): Command {
  const cmd = new Command('transcribe')
    .description('transcribe audio files (WAV, FLAC, MP3, OGG Vorbis; any sample rate) to text')
    .argument('<files...>', 'audio files');
  addModelOptions(cmd)
    .option('--decoder <kind>', "'greedy' or 'beam' (--lm, --lexicon, --hotword, --beam-size, --lm-weight and --word-score imply beam)", 'greedy')
    .option('--lm <arpa>', 'n-gram language model (ARPA) for beam search')
    .option('--lexicon <file>', 'lexicon for beam search: a word and its tokens per line')
    .option('--hotword <word[:boost]>', 'boost a word in beam search (repeatable)', hotword, [])
    .option('--beam-size <n>', 'beam size', positiveInt('--beam-size'))
    .option('--lm-weight <x>', 'language model weight', number('--lm-weight'))
    .option('--word-score <x>', 'score added per word', number('--word-score'))
    .option('--timestamps', 'print word start and end times and confidences', false)
    .option('--json', 'print one JSON object per file', false)
    .action(async (files: string[], o: TranscribeCliOptions) => {
      if (o.decoder !== 'greedy' && o.decoder !== 'beam') throw new Wav2Vec2Error('INVALID_INPUT', `--decoder: expected greedy or beam, got "${o.decoder}".`);
      const hotwords = parseHotwords(o.hotword);
      const beamOnly = o.lm || o.lexicon || hotwords?.length || o.beamSize || o.lmWeight !== undefined || o.wordScore !== undefined;
      const decoderKind = o.decoder === 'greedy' && beamOnly ? 'beam' : o.decoder;
      const model = await openModel(o);
      try {
        const decoder = createDecoder(model, {
          decoder: decoderKind,
          ...(o.lm ? { lm: o.lm } : {}),
          ...(o.lexicon ? { lexicon: o.lexicon } : {}),
          ...(hotwords?.length ? { hotwords } : {}),
          ...(o.beamSize ? { beamSize: o.beamSize } : {}),
          ...(o.lmWeight !== undefined ? { lmWeight: o.lmWeight } : {}),
          ...(o.wordScore !== undefined ? { wordScore: o.wordScore } : {}),
        });
        for (const file of files) {
          const r = await transcribe(model, file, decoder);
          if (o.json) {
            process.stdout.write(JSON.stringify({ file, text: r.text, duration: +r.duration.toFixed(3), words: r.words.map((w) => ({ ...w, start: +w.start.toFixed(3), end: +w.end.toFixed(3), confidence: +w.confidence.toFixed(4) })), decoder: decoder.kind, model: model.info.file }) + '\n');
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
