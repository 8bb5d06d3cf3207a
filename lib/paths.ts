import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package root: lib/ runs from source (tsx: <root>/lib) or compiled (<root>/dist/lib); everything shipped
 * beside it (build/, models/, package.json) is found from here.
 */
export const PACKAGE_ROOT = existsSync(join(__dirname, '..', 'package.json')) ? join(__dirname, '..') : join(__dirname, '..', '..');

/** The model shipped with the package (trained by scripts/make_default_model on synthetic speech), and its manifest. */
export const DEFAULT_MODEL_PATH = join(PACKAGE_ROOT, 'models', 'default.pt');
