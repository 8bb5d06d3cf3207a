#!/usr/bin/env node
/**
 * `wav2vec2` — transcribe, features, plot, batch, worker, serve, bench, setup, download. User mistakes print one line and
 * exit 1 (2 for usage errors); only unexpected failures print a stack (and WAV2VEC2_DEBUG=1 prints stacks always).
 */
import { Command, CommanderError } from 'commander';
import { Wav2Vec2Error } from '../errors';
import { batchCommand } from './batch';
import { benchCommand } from './bench';
import { downloadCommand } from './download';
import { featuresCommand } from './features';
import { plotCommand } from './plot';
import { serveCommand } from './serve';
import { UsageError } from './options';
import { setupCommand } from './setup';
import { transcribeCommand } from './transcribe';
import { workerCommand } from './worker';

import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require(join(PACKAGE_ROOT, 'package.json')) as { version: string };

/** Commander's own usage errors ("error: unknown option '--x'") in the one-line shape of every other mistake. */
function usageLine(text: string, write: (s: string) => void): void {
  write(text.startsWith('error: ') ? `wav2vec2: ${text.slice(7).trimEnd()} [INVALID_INPUT]\n` : text);
}

export function program(): Command {
  const root = new Command('wav2vec2').description('speech recognition with wav2vec2-family models (LibTorch)').version(version);
  for (const cmd of [root, transcribeCommand(), featuresCommand(), plotCommand(), batchCommand(), workerCommand(), benchCommand(), serveCommand(), setupCommand(), downloadCommand()]) {
    // addCommand() does not pass settings down: each command throws instead of exiting, so main() decides.
    cmd.showHelpAfterError('(run with --help for usage)').exitOverride().configureOutput({ outputError: usageLine });
    if (cmd !== root) root.addCommand(cmd);
  }
  return root;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    // A command may finish with a status of its own (batch: 3 when inputs failed, 130 when interrupted).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    if (process.env.WAV2VEC2_DEBUG === '1') console.error(err);
    if (err instanceof Wav2Vec2Error) {
      process.stderr.write(`wav2vec2: ${err.message} [${err.code}]\n`);
      return err instanceof UsageError ? 2 : 1;
    }
    const errno = err as NodeJS.ErrnoException;
    if (typeof errno?.code === 'string' && typeof errno.message === 'string') {
      // A file system error (EEXIST, EACCES, ENOSPC, ...): Node's message names the call and the path.
      process.stderr.write(`wav2vec2: ${errno.message.replace(/^[A-Z]+: /, '')} [${errno.code}]\n`);
      return 1;
    }
    process.stderr.write(`wav2vec2: unexpected error (please report it): ${(err as Error)?.stack ?? err}\n`);
    return 70;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
