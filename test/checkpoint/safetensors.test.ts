import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensorsBytes } from '../../lib/checkpoint/safetensors';
import { throwsCode } from '../helpers/errors';
import { FIXTURES } from './reference';

/** A safetensors file with `header` (as given) over `dataBytes` zero bytes. */
function file(header: unknown, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
}

describe('checkpoint/safetensors: headers (values against safe_open are in checkpoint.test.ts)', () => {
  it('reads a transformers-written file in memory as from disk, offsets past the header', () => {
    const bytes = readFileSync(join(FIXTURES, 'wav2vec2-base', 'model.safetensors'));
    const w = parseSafetensorsBytes('m.safetensors', bytes);
    assert.equal(w.size, 49);
    const n = Number(bytes.readBigUInt64LE(0));
    for (const ref of w.values()) assert.ok(ref.offset >= 8 + n && ref.offset + ref.byteLength <= bytes.length, ref.name);
  });

  const refusals: Array<[string, Buffer, RegExp]> = [
    ['overlapping ranges', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /"a" and "b" overlap/],
    ['a range past the data', file({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /spans bytes \[0, 16\) of a 8-byte data section/],
    ['a shape that does not fill its range', file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /needs 12 bytes; its range holds 8/],
    ['a huge shape', file({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, 8), /its range holds 8/],
    ['an integer dtype', file({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), /dtype "I64"; supported: F32, F16, BF16, F64/],
    ['a negative dimension', file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /shape \[-1\]/],
    ['a header that is not an object', file([1], 0), /not a JSON object/],
    ['a header length past the file', Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]), /the header claims 65535 bytes/],
  ];
  for (const [what, bytes, pattern] of refusals) {
    it(`refuses ${what} with CHECKPOINT_INVALID`, () => throwsCode(() => parseSafetensorsBytes('x.safetensors', bytes), 'CHECKPOINT_INVALID', new RegExp(`^x\\.safetensors: not a valid safetensors file: .*${pattern.source}`)));
  }
});
