/** Reading back the .npy files the CLI and batch jobs write, without numpy. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** Reads a float32 .npy (format 1.0): checks its header as numpy.load would need it, returns the shape and data. */
export function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const b = readFileSync(path);
  assert.equal(b.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  const len = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + len).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  assert.match(header, /'fortran_order': False/);
  assert.equal((10 + len) % 64, 0, 'header padded to 64 bytes');
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = b.subarray(10 + len);
  return { shape, data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length)) };
}
