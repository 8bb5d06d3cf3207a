/**
 * The GPU check's one JavaScript entry, bundled by prepare.js into .gpu-check/gpu-check.js so that it runs with
 * nothing but a node binary (run.sh):
 *   tests  TESTS.json [GREP]                              the CUDA tests (tests.ts), or those GREP picks
 *   sweep  DIR OUT.json --device D --dtypes a,b --batches 1,2 --seconds S --warmup W --reps R --deadline MS
 *   report --label L --ours F --torch F --tests F --stages F --out DIR
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DType, Device } from '../../lib/model/model';
import { writeReport } from './report';
import { sweepOurs } from './sweep';
import { runCudaTests } from './tests';

const list = (s: string): string[] => s.split(',').filter(Boolean);

async function sweep(argv: string[]): Promise<void> {
  const { values: v, positionals: [dir, out] } = parseArgs({
    args: argv, allowPositionals: true,
    options: { device: { type: 'string', default: 'cuda' }, dtypes: { type: 'string', default: 'float32,float16,bfloat16' },
      batches: { type: 'string', default: '1,2,4,8,16' }, seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' }, reps: { type: 'string', default: '5' }, deadline: { type: 'string', default: '0' } },
  });
  if (!dir || !out) throw new Error('usage: sweep DIR OUT.json [options]');
  const result = await sweepOurs({ dir, device: v.device as Device, dtypes: list(v.dtypes) as DType[], batches: list(v.batches).map(Number),
    seconds: Number(v.seconds), warmup: Number(v.warmup), reps: Number(v.reps), deadline: Number(v.deadline) });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

function report(argv: string[]): void {
  const names = ['label', 'ours', 'torch', 'tests', 'stages', 'out'] as const;
  const { values: v } = parseArgs({ args: argv, options: Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])) });
  for (const n of names) if (!v[n]) throw new Error(`report: --${n} is required`);
  writeReport({ label: v.label!, ours: v.ours!, torch: v.torch!, tests: v.tests!, stages: v.stages!, outDir: v.out! });
}

async function main(): Promise<void> {
  const [cmd, ...argv] = process.argv.slice(2);
  if (cmd === 'tests') {
    const s = await runCudaTests(argv[0] ?? 'tests.json', argv[1] ? new RegExp(argv[1]) : undefined);
    process.exitCode = s.failures ? 1 : 0;
  } else if (cmd === 'sweep') await sweep(argv);
  else if (cmd === 'report') report(argv);
  else throw new Error(`unknown command ${cmd ?? '(none)'}: tests, sweep or report`);
}

main().catch((err: unknown) => {
  // eslint-disable-next-line no-console
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
