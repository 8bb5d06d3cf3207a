/** Reading back the .npy files batch jobs write. */
import { readFileSync } from 'node:fs';

/** Reads a float32 .npy (format 1.0). */
export function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const b = readFileSync(path);
  const len = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + len).toString('latin1');
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = b.subarray(10 + len);
  return { shape, data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length)) };
}
