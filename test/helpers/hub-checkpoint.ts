/** The hub-layout fixtures (test/fixtures/hub, made by scripts/make_hub_fixtures.py), read by lib/checkpoint. */
import { join, resolve } from 'node:path';
import { readCheckpoint } from '../../lib/checkpoint';
import type { Checkpoint } from '../../lib/checkpoint/types';

export const HUB_FIXTURES = resolve(__dirname, '..', 'fixtures', 'hub');

export function readFixtureCheckpoint(name: string): Promise<Checkpoint> {
  return readCheckpoint(join(HUB_FIXTURES, name));
}
