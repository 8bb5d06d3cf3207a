/** Channel handling: downmix to mono and channel selection. */
import { invalid } from '../errors';

/**
 * The mean of the channels, sample by sample (torch's `waveform.mean(dim=0)`), accumulated in float64 and rounded
 * once. Channels must have the same length.
 */
export function downmix(channels: readonly Float32Array[]): Float32Array {
  if (!Array.isArray(channels) || channels.length === 0 || !channels.every((c) => c instanceof Float32Array)) {
    throw invalid('INVALID_INPUT', 'channels', 'a non-empty array of Float32Array', channels);
  }
  const n = channels[0]!.length;
  channels.forEach((c, i) => {
    if (c.length !== n) throw invalid('INVALID_INPUT', `channels[${i}]`, `${n} samples like channel 0`, c);
  });
  if (channels.length === 1) return channels[0]!.slice();
  const out = new Float32Array(n);
  const C = channels.length;
  if (C === 2) {
    const [a, b] = channels as [Float32Array, Float32Array];
    for (let i = 0; i < n; i++) out[i] = (a[i]! + b[i]!) / 2;
    return out;
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += channels[c]![i]!;
    out[i] = s / C;
  }
  return out;
}

/** Channel `index` of `channels` (a copy, so the caller may modify it freely). */
export function selectChannel(channels: readonly Float32Array[], index: number): Float32Array {
  if (!Number.isInteger(index) || index < 0 || index >= channels.length) {
    throw invalid('INVALID_INPUT', 'channel', `an index within [0, ${channels.length - 1}]`, index);
  }
  return channels[index]!.slice();
}
