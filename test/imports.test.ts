/**
 * The library stays a library: no module outside lib/cli imports the command line (commander), the benchmarks or the
 * tooling, and importing the package loads neither the CLI nor the server (fastify) nor the plotting (canvas): they
 * load on first use (lib/serve/entry.ts) or only from the CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '..');
const LIB = join(ROOT, 'lib');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? tsFiles(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier of a file: static imports and exports, import() and require() with a string literal. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

describe('imports', () => {
  it('no library module imports from lib/cli, bench/ or scripts/', () => {
    const offenders: string[] = [];
    for (const file of tsFiles(LIB)) {
      if (file.startsWith(join(LIB, 'cli') + '/')) continue;
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = relative(ROOT, resolve(dirname(file), spec));
        if (/^(lib\/cli|bench|scripts)(\/|$)/.test(target)) offenders.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('importing the package loads neither the CLI, the server nor the plotting', function () {
    this.timeout(60000);
    const script = "require('./lib/index.ts'); process.stdout.write(JSON.stringify(Object.keys(require.cache)));";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const loaded = (JSON.parse(r.stdout) as string[]).map((p) => relative(ROOT, p));
    assert.ok(loaded.includes(join('lib', 'index.ts')), 'the check sees the library itself');
    const heavy = /(^|\/)node_modules\/(commander|fastify|@fastify\/[^/]+|@napi-rs\/canvas|prom-client|cli-progress|bullmq|ioredis)\//;
    const ours = /^(lib\/cli|lib\/serve\/(?!entry\.ts$)|lib\/plot\.ts$|bench|scripts)/;
    assert.deepEqual(loaded.filter((p) => heavy.test(p) || ours.test(p)), []);
  });
});
