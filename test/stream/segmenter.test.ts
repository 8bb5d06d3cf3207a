/** The energy segmenter: speech flags on the frame grid, the noise floor, and the cut points for batch work. */
import assert from 'node:assert/strict';
import { EnergySegmenter, checkSegmenterOptions, speechCuts } from '../../lib/stream/segmenter';

/** A 200 Hz tone at `db` dBFS RMS for `s` seconds. */
function tone(s: number, db: number): Float32Array {
  const a = Math.SQRT2 * 10 ** (db / 20);
  return Float32Array.from({ length: Math.round(s * 16000) }, (_, i) => a * Math.sin((2 * Math.PI * 200 * i) / 16000));
}

function join(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

describe('stream: segmenter', () => {
  it('flags loud frames as speech and silence as not, on the 20 ms grid, whatever the piece size', () => {
    const x = join(new Float32Array(16000), tone(1, -20), new Float32Array(16000));
    for (const piece of [1, 320, 777, x.length]) {
      const seg = new EnergySegmenter(320, 16000);
      for (let i = 0; i < x.length; i += piece) seg.push(x.subarray(i, i + piece));
      assert.equal(seg.frames, 150);
      assert.ok(!seg.speechIn(0, 50) && seg.speechIn(50, 51) && seg.speechIn(99, 100) && !seg.speechIn(100, 150), `piece ${piece}`);
      assert.equal(seg.trailingSilence(), 50);
    }
  });

  it('does not take steady noise for speech, but speech above it', () => {
    // Noise at -40 dBFS (above the absolute floor of -50) for 5 s, then a tone 20 dB above it.
    let s = 1;
    const noise = Float32Array.from({ length: 80000 }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 2 * Math.sqrt(3) * 0.01);
    const seg = new EnergySegmenter(320, 16000);
    seg.push(join(noise, tone(0.5, -20)));
    // The floor starts as a quiet room's: noise counts as speech until 3 s of it make the floor.
    assert.ok(seg.speechIn(0, 10), 'noise at first');
    assert.ok(!seg.speechIn(151, 250), 'steady noise is not speech once it is the floor');
    assert.ok(seg.speechIn(250, 275), 'a tone 20 dB above the noise is');
  });

  it('cuts a long signal in the middle of each pause long enough, and within a segment at its longest', () => {
    const x = join(tone(2, -20), new Float32Array(16000), tone(1, -20), new Float32Array(3200), tone(1, -20));
    const cuts = speechCuts(x, 320, 16000);
    // One cut, in the middle of the 1 s pause (the 0.2 s one is a pause between words).
    assert.deepEqual(cuts, [2.5 * 16000]);
    const long = speechCuts(tone(5, -20), 320, 16000, { maxSegmentMs: 2000 });
    assert.ok(long.length >= 2 && long.every((c, i) => c % 320 === 0 && (i === 0 || c - long[i - 1]! <= 2000 * 16 + 320)), String(long));
  });

  it('checks its options', () => {
    assert.throws(() => checkSegmenterOptions({ minSilenceMs: 5 }), /minSilenceMs/);
    assert.throws(() => checkSegmenterOptions({ minSilenceMs: 2000, maxSegmentMs: 1500 }), /maxSegmentMs/);
    assert.throws(() => checkSegmenterOptions({ marginDb: Number.NaN }), /marginDb/);
    assert.equal(checkSegmenterOptions({ minLevelDb: -40 }).minLevelDb, -40);
  });
});
