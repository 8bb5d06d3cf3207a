import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadModel } from '../../lib/hub';
import { getJson } from '../../lib/hub/fetch';
import { rejectsCode } from '../helpers/errors';

describe('hub/fetch answers not in the hub shape', () => {
  let port: number;
  let close: () => void;
  before(async () => {
    const server = createServer((req, res) => {
      if (req.url!.startsWith('/api/')) return void res.end(req.url!.includes('big') ? 'x'.repeat(5000) : JSON.stringify({ sha: 'nope' }));
      res.end('plain');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = () => server.close();
  });
  after(() => close());

  it('a JSON answer over its bound is HUB_NETWORK, read no further', async () => {
    const url = new URL(`http://127.0.0.1:${port}/api/big`);
    await rejectsCode(getJson(url, { hubHost: url.host, timeoutMs: 5000 }, { repo: 'a/b', revision: 'main' }, 1000), 'HUB_NETWORK', /larger than 1000 bytes/);
  });

  it('a server that is not a hub is HUB_NETWORK saying to check HF_ENDPOINT', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'hub-nothub-'));
    try {
      await rejectsCode(downloadModel('a/b', { endpoint: `http://127.0.0.1:${port}`, cacheDir, token: false, offline: false }), 'HUB_NETWORK', /HF_ENDPOINT/);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
