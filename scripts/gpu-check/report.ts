/**
 * The check's table: this package against PyTorch eager per dtype and batch, the CUDA test counts and the time of
 * each stage of run.sh, as gpu-check.md and gpu-check.json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machine, table } from '../../bench/stats';
import type { SweepCase, SweepResult } from './sweep';
import type { TestSummary } from './tests';

export interface ReportInputs {
  /** What kind of run this was, said at the top of the table (a real GPU sweep or the CPU smoke run). */
  label: string;
  ours: string;
  torch: string;
  tests: string;
  /** run.sh's stage log: one `name<TAB>seconds<TAB>exit status or "skipped"` line per stage. */
  stages: string;
  outDir: string;
}

function readJson<T>(file: string): T | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
}

function readStages(file: string): Array<{ stage: string; seconds: number; status: string }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const [stage, seconds, status] = line.split('\t');
    return { stage: stage!, seconds: Number(seconds), status: status ?? '?' };
  });
}

const fmt = (ms: number | undefined): string => (ms === undefined ? '—' : ms.toFixed(1));

function caseRow(c: SweepCase, peer: SweepCase | undefined): Array<string | number> {
  const realTime = c.median_ms ? `${((c.batch * c.seconds * 1000) / c.median_ms).toFixed(0)}×` : (c.skipped ?? '—');
  const ratio = c.median_ms && peer?.median_ms ? (c.median_ms / peer.median_ms).toFixed(2) : '—';
  return [c.dtype, c.batch, `${c.batch} × ${c.seconds} s`, fmt(c.median_ms), realTime, fmt(peer?.median_ms), ratio];
}

function sweepTable(ours: SweepResult | null, torch: SweepResult | null): string {
  if (!ours) return '(no sweep results from this package: see log.txt)';
  const peerOf = (c: SweepCase) => torch?.cases.find((t) => t.dtype === c.dtype && t.batch === c.batch);
  const header = ['dtype', 'batch', 'audio', 'ours ms (median)', 'ours × real time', 'PyTorch eager ms (median)', 'ours / PyTorch'];
  return table(header, ours.cases.map((c) => caseRow(c, peerOf(c))));
}

export function writeReport(r: ReportInputs): void {
  const ours = readJson<SweepResult>(r.ours);
  const torch = readJson<SweepResult & { gpu?: string; attention?: string; float32_matmul_precision?: string; cudnn_allow_tf32?: boolean }>(r.torch);
  const tests = readJson<TestSummary>(r.tests);
  const stages = readStages(r.stages);
  const json = { date: new Date().toISOString(), label: r.label, machine: machine(), gpu: torch?.gpu ?? null, tests, stages, ours, torch };
  writeFileSync(join(r.outDir, 'gpu-check.json'), JSON.stringify(json, null, 2) + '\n');
  const testLine = tests ? `${tests.passes} passing, ${tests.failures} failing, ${tests.pending} pending` : 'no result (see log.txt)';
  const md = [
    `# GPU check, ${json.date.slice(0, 16)} UTC: ${torch?.gpu ?? 'no GPU'}`,
    '',
    r.label,
    '',
    `CUDA tests: ${testLine}.`,
    `Stages (s): ${stages.map((s) => `${s.stage} ${s.seconds}${s.status === '0' ? '' : ` (${s.status === 'skipped' ? 'skipped' : `exit ${s.status}`})`}`).join(', ') || '—'}.`,
    `Ours: ${ours?.runtime ?? '—'}. PyTorch: ${torch?.runtime ?? '—'}, attention ${torch?.attention ?? '?'}; both at their defaults ` +
      `(float32 matmul precision ${torch?.float32_matmul_precision ?? '?'}, cuDNN TF32 ${torch?.cudnn_allow_tf32 ?? '?'}).`,
    'Each case: median of the timed runs after warm-ups, host float32 in and float32 emissions back (copies included).',
    '',
    sweepTable(ours, torch),
  ].join('\n');
  writeFileSync(join(r.outDir, 'gpu-check.md'), md + '\n');
  // eslint-disable-next-line no-console
  console.log(md);
}
