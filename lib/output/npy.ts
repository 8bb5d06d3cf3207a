/**
 * NumPy .npy (format 1.0) for float32 tensors: `numpy.load` reads what this writes. The format is a magic
 * string, a padded Python-literal header and raw little-endian data; no package handles just this with
 * fewer moving parts.
 */
import { writeFile } from 'node:fs/promises';
import type { Tensor } from '../tensor';

export function encodeNpy(tensor: Tensor): Buffer {
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + tensor.data.byteLength);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const body = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) body.copy(out, 10 + header.length);
  else for (let i = 0; i < tensor.data.length; i++) out.writeFloatLE(tensor.data[i]!, 10 + header.length + i * 4);
  return out;
}

export async function writeNpy(path: string, tensor: Tensor): Promise<void> {
  await writeFile(path, encodeNpy(tensor));
}
