import { readdirSync } from 'node:fs';
import { loadModel } from './lib/model';
import { loadForModel } from './lib/transcribe';
import { GreedyCTCDecoder } from './lib/decode';
import { StreamSession, streamPlan } from './lib/stream/session';
import { wordEdits } from './test/helpers/ws-client';
const variant = JSON.parse(process.argv[2] ?? '{}');
(async () => {
  const model = await loadModel('bench/stream-model/default.pt', { threads: 1 });
  const dec = new GreedyCTCDecoder(model.labels!, { wordDelimiter: '|' });
  const tsv = require('fs').readFileSync('scripts/make_default_model/text/heldout.tsv', 'utf8').split('\n').slice(1).filter(Boolean).map((l: string) => l.split('\t'));
  const text = new Map(tsv.map((r: string[]) => [r[0], r[7]!.toUpperCase()]));
  const files = readdirSync('test/fixtures/generated/heldout').filter((f) => f.endsWith('.wav')).sort().slice(0, 24);
  const em = async (x: Float32Array) => { const r = await model.forward(x); return { data: r.emissions.data, shape: r.emissions.shape.slice(1) }; };
  let offErr = 0, stErr = 0, words = 0;
  const parts: Float32Array[] = []; const refs: string[] = [];
  for (const f of files) {
    const x = (await loadForModel(model, 'test/fixtures/generated/heldout/' + f)).samples;
    const ref = (text.get(f.replace(/-[0-9a-f]{10}\.wav$/, '')) as string).split(' ');
    parts.push(x); refs.push(...ref); words += ref.length;
    if (variant.offline) offErr += wordEdits(dec.decode(await em(x)).text.split(' ').filter(Boolean), ref);
  }
  const gap = 11200;
  const rec = new Float32Array(parts.reduce((n, p) => n + p.length + gap, gap)); let o = gap; for (const p of parts) { rec.set(p, o); o += p.length + gap; }
  const finals: string[] = [];
  const s = new StreamSession({ plan: streamPlan(model, variant.plan ?? {}), decoder: dec, segmentContext: !!variant.seg, infer: em, onEvent: (e) => { if (e.type === 'final') finals.push(e.text); } });
  for (let i = 0; i < rec.length; i += 1600) { s.push(rec.subarray(i, i + 1600)); await s.idle(); }
  await s.end();
  stErr = wordEdits(finals.join(' ').split(' ').filter(Boolean), refs);
  console.log(JSON.stringify(variant), 'per-utterance offline WER', (offErr / words * 100).toFixed(2), 'streamed', (stErr / words * 100).toFixed(2), 'finals', finals.length, 'utterances', files.length);
})();
