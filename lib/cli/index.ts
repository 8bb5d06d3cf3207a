#!/usr/bin/env node
/**
 * `wav2vec2` — transcribe, features, plot. User mistakes print one line and exit non-zero; only unexpected
 * failures print a stack (and WAV2VEC2_DEBUG=1 prints stacks always).
 */
import { Command, CommanderError } from 'commander';
import { Wav2Vec2Error } from '../errors';
import { batchCommand } from './batch';
import { benchCommand } from './bench';
import { featuresCommand } from './features';
import { plotCommand } from './plot';
import { serveCommand } from './serve';
import { transcribeCommand } from './transcribe';

import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require(join(PACKAGE_ROOT, 'package.json')) as { version: string };

export function program(): Command {
  const root = new Command('wav2vec2').description('speech recognition with wav2vec2-family models (LibTorch)').version(version);
  for (const cmd of [root, transcribeCommand(), featuresCommand(), plotCommand(), batchCommand(), benchCommand(), serveCommand()]) {
    // addCommand() does not pass settings down: each command throws instead of exiting, so main() decides.
    cmd.showHelpAfterError('(run with --help for usage)').exitOverride();
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
      return 1;
    }
    if ((err as NodeJS.ErrnoException)?.code && typeof (err as Error).message === 'string') {
      process.stderr.write(`wav2vec2: ${(err as Error).message}\n`);
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
