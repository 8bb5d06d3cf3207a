/**
 * A process that tries to open a batch output folder at a given moment (`node --import tsx lock-taker.ts DIR AT_MS`),
 * for the lock tests: it prints `won` or the error code, and holds a won folder until its stdin ends (the test ends
 * it once every taker has answered, so a late starter cannot find the folder already released). Starting many of
 * these at the same moment is a real race for the lock, between real processes.
 */
import { JobStore } from '../../lib/jobs/store';

async function main(): Promise<void> {
  const [dir, at] = process.argv.slice(2);
  // Spin rather than sleep: a timer can be late by a few ms, which would spread the attempts out.
  while (Date.now() < Number(at));
  try {
    const store = await JobStore.open(dir!, { model: 'm.pt' });
    process.stdout.write('won\n');
    await new Promise((resolve) => process.stdin.on('end', resolve).resume());
    await store.close();
  } catch (err) {
    process.stdout.write(`${(err as { code?: string }).code ?? String(err)}\n`);
  }
}

void main();
