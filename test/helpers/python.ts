import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const cache = new Map<string, string | null>();

/**
 * A Python interpreter that can import every module in `modules`: $WAV2VEC2_PYTHON, then the project's .venv,
 * then python3 on the PATH. null when none can (the caller skips, saying what is missing).
 */
export function findPython(modules: string[]): string | null {
  const key = modules.join(',');
  if (cache.has(key)) return cache.get(key)!;
  const candidates = [process.env.WAV2VEC2_PYTHON, join(__dirname, '..', '..', '.venv', 'bin', 'python'), 'python3'].filter(
    (p): p is string => !!p && (p === 'python3' || existsSync(p)),
  );
  let found: string | null = null;
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', modules.map((m) => `import ${m}`).join('; ') || 'pass'], { stdio: 'ignore', timeout: 120000 });
    if (r.status === 0) {
      found = py;
      break;
    }
  }
  cache.set(key, found);
  return found;
}
