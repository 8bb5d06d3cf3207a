/** The shape every decoder in lib/audio has, so the loader can drive WAV, FLAC, MP3 and Vorbis the same way. */

/** Decoded samples: one Float32Array per channel, all the same length. */
export interface DecodedBlock {
  channels: Float32Array[];
  sampleRate: number;
}

/** An incremental decoder: feed the file in any chunking, collect what each chunk completes. */
export interface StreamDecoder {
  /** Decodes what `chunk` completes; null when it completes no sample yet. */
  push(chunk: Uint8Array): DecodedBlock | null;
  /** No more input: returns the last samples (or null) and checks that the file was complete enough. */
  end(): DecodedBlock | null;
  /** Releases native/WASM memory. Safe to call more than once. */
  free(): void;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const r = new Uint8Array(a.length + b.length);
  r.set(a);
  r.set(b, a.length);
  return r;
}

/** Joins blocks end to end per channel (null for none). The blocks must agree on channels and sample rate. */
export function mergeBlocks(blocks: DecodedBlock[]): DecodedBlock | null {
  if (blocks.length === 0) return null;
  if (blocks.length === 1) return blocks[0]!;
  const C = blocks[0]!.channels.length;
  const n = blocks.reduce((s, b) => s + b.channels[0]!.length, 0);
  const channels = Array.from({ length: C }, (_, c) => {
    const x = new Float32Array(n);
    let o = 0;
    for (const b of blocks) {
      x.set(b.channels[c]!, o);
      o += b.channels[c]!.length;
    }
    return x;
  });
  return { channels, sampleRate: blocks[0]!.sampleRate };
}
