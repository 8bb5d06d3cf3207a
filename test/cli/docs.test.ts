/**
 * The command line as documented: every flag of every command appears in README.md or docs/, and every flag in a
 * documented `npx wav2vec2 COMMAND ...` usage line is one that command takes.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { program } from '../../lib/cli';

const ROOT = join(__dirname, '..', '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))]
  .map((f) => ({ file: f, text: readFileSync(join(ROOT, f), 'utf8') }));

const flagsOf = (name: string): Set<string> => {
  const cmd = program().commands.find((c) => c.name() === name);
  return new Set(cmd ? cmd.options.map((o) => o.long!).concat(['--help']) : []);
};

/** `npx wav2vec2 COMMAND ...` lines of the code blocks, with their indented continuation lines. */
function usageLines(text: string): Array<{ command: string; line: string }> {
  const out: Array<{ command: string; line: string }> = [];
  let current: { command: string; line: string } | null = null;
  for (const line of text.split('\n')) {
    const m = /^npx wav2vec2 ([a-z]+)\b(.*)$/.exec(line);
    if (m) {
      current = { command: m[1]!, line: m[2]!.replace(/#.*$/, '') };
      out.push(current);
    } else if (current && /^\s+\[/.test(line)) {
      current.line += ' ' + line;
    } else {
      current = null;
    }
  }
  return out;
}

describe('cli: documentation', () => {
  it('documents every flag of every command', () => {
    const all = DOCS.map((d) => d.text).join('\n');
    const missing: string[] = [];
    for (const cmd of program().commands) {
      for (const o of cmd.options) {
        if (!new RegExp(`${o.long!}(?![a-z-])`).test(all)) missing.push(`${cmd.name()} ${o.long}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('documents no flag a command does not take', () => {
    const wrong: string[] = [];
    for (const { file, text } of DOCS) {
      for (const { command, line } of usageLines(text)) {
        const known = flagsOf(command);
        for (const [flag] of line.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)) {
          if (!known.has(flag)) wrong.push(`${file}: ${command} ${flag}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });
});
