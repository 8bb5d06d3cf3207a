/**
 * `npm run check:leaks`: 2000 forward calls (and 200 load/dispose cycles) on a fixture model with --expose-gc;
 * fails when resident memory grows by 10 MB or more after warm-up. Prints the figures.
 */
import { join } from 'node:path';
import { loadModel } from '../lib/model';

const MODEL = join(__dirname, '..', 'test', 'fixtures', 'models', 'ta_tiny_base.pt');
const CALLS = Number(process.env.LEAK_CALLS ?? 2000);
const CYCLES = Number(process.env.LEAK_CYCLES ?? 200);
const LIMIT_MB = 10;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc (npm run check:leaks does)');
  process.exit(2);
}
const rssMb = () => process.memoryUsage().rss / 2 ** 20;
function settle(): number {
  for (let i = 0; i < 3; i++) gc!();
  return rssMb();
}

async function main(): Promise<void> {
  const input = new Float32Array(16000).map((_, i) => 0.2 * Math.sin(i / 17));
  const model = await loadModel(MODEL, { manifest: false });
  for (let i = 0; i < 200; i++) await model.forward(input); // warm-up: allocator pools, profiling executor
  const start = settle();
  for (let i = 1; i <= CALLS; i++) {
    const out = await model.forward(input);
    if (out.emissions.data.length === 0) throw new Error('empty output');
    if (i % 500 === 0) console.log(`  ${i} calls: rss ${settle().toFixed(1)} MB`);
  }
  const afterCalls = settle();
  model.dispose();

  // Load / run / dispose cycles: weights, threads and the completion channel must all be released. Each new
  // inference thread may get its own malloc arena, so RSS wanders by several MB between cycles: compare the
  // mean of the first and last samples rather than two single readings.
  const cycle = async () => {
    const m = await loadModel(MODEL, { manifest: false });
    await m.forward(input);
    m.dispose();
  };
  for (let i = 0; i < 50; i++) await cycle();
  const samples: number[] = [];
  for (let i = 1; i <= CYCLES; i++) {
    await cycle();
    if (i % 10 === 0) samples.push(settle());
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const k = Math.max(1, Math.floor(samples.length / 4));
  const cyclesStart = mean(samples.slice(0, k));
  const afterCycles = mean(samples.slice(-k));

  const callGrowth = afterCalls - start;
  const cycleGrowth = afterCycles - cyclesStart;
  console.log(`forward: ${CALLS} calls of 1 s audio, rss ${start.toFixed(1)} -> ${afterCalls.toFixed(1)} MB (growth ${callGrowth.toFixed(2)} MB)`);
  console.log(`load/forward/dispose: ${CYCLES} cycles, rss ${cyclesStart.toFixed(1)} -> ${afterCycles.toFixed(1)} MB (growth ${cycleGrowth.toFixed(2)} MB)`);
  const ok = callGrowth < LIMIT_MB && cycleGrowth < LIMIT_MB;
  console.log(ok ? `OK: growth under ${LIMIT_MB} MB` : `LEAK: growth of ${LIMIT_MB} MB or more`);
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
