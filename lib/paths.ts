import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package root: lib/ runs from source (tsx: <root>/lib) or compiled (<root>/dist/lib); everything shipped
 * beside it (build/, models/, package.json) is found from here.
 */
export const PACKAGE_ROOT = existsSync(join(__dirname, '..', 'package.json')) ? join(__dirname, '..') : join(__dirname, '..', '..');
