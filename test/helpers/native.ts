import { hasBinding } from '../../lib/model/native';

/** Call in a describe() body's before(): skips the suite, with the reason, when the addon is not built. */
export function requireAddon(ctx: Mocha.Context): void {
  if (!hasBinding()) {
    // eslint-disable-next-line no-console
    console.log('      (skipped: native addon not built; run `npm run build:native`)');
    ctx.skip();
  }
}
