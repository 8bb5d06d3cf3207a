import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTorchArchiveBytes, readTorchArchive } from '../../lib/checkpoint/torch-archive';
import type { WeightSet } from '../../lib/checkpoint/types';
import { rejectsCode, throwsCode } from '../helpers/errors';
import { requirePython } from '../helpers/python';
import { tensorValues } from '../helpers/tensor-ref';
import { FIXTURES, reference, type ReferenceTensor, TORCHAUDIO_STATE } from './reference';

/** Every tensor torch.load returns is in our WeightSet with its shape, dtype and exact values (and nothing else). */
function assertSameAsTorch(file: string, ours: WeightSet, theirs: Record<string, ReferenceTensor>): void {
  const floats = Object.entries(theirs).filter(([, t]) => ['float32', 'float16', 'bfloat16', 'float64'].includes(t.dtype));
  assert.deepEqual([...ours.keys()].sort(), floats.map(([k]) => k).sort(), `${file}: tensor names`);
  for (const [name, t] of floats) {
    const ref = ours.get(name)!;
    assert.equal(ref.dtype, t.dtype, `${name} dtype`);
    assert.deepEqual(ref.shape, t.shape, `${name} shape`);
    assert.deepEqual([...tensorValues(ref)], t.values, `${name} values`);
  }
}

describe('checkpoint/torch-archive: torch.save files (pytorch_model.bin, .pth)', function () {
  let py: string;
  let dir: string;
  let cases: { good: Record<string, string>; bad: Record<string, string> };
  /** torch.load's view of every good file, from one Python run (starting torch takes seconds). */
  let torchSays: Record<string, Record<string, ReferenceTensor>>;
  const bin = join(FIXTURES, 'wav2vec2-bin', 'pytorch_model.bin');
  const torchaudio = ['ta_tiny_base', 'ta_tiny_lv60k', 'hf_tiny_traced'].map((n) => join(TORCHAUDIO_STATE, `${n}.pth`));

  before(function () {
    this.timeout(120_000);
    py = requirePython(this, ['torch']);
    dir = mkdtempSync(join(tmpdir(), 'w2v-torch-archive-'));
    cases = reference(py, 'make-cases', dir);
    torchSays = reference(py, 'tensors', bin, ...torchaudio, ...Object.values(cases.good).map((f) => join(dir, f)));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('reads the transformers 4.x-style pytorch_model.bin fixture as torch.load does', async () => {
    assertSameAsTorch(bin, await readTorchArchive(bin), torchSays[bin]!);
  });

  it('reads the torchaudio-named state dicts of the shared fixture models', async () => {
    for (const file of torchaudio) assertSameAsTorch(file, await readTorchArchive(file), torchSays[file]!);
  });

  it('reads views, shared storages, strides, offsets, every float dtype, parameters and module state dicts', async () => {
    for (const f of Object.values(cases.good)) {
      const file = join(dir, f);
      assertSameAsTorch(file, await readTorchArchive(file), torchSays[file]!);
    }
  });

  it('keeps strides and storage offsets (a transposed view is not copied)', async () => {
    const w = await readTorchArchive(join(dir, cases.good.views!));
    const base = w.get('base')!;
    assert.deepEqual(w.get('transposed')!.strides, [1, 5]);
    assert.equal(w.get('transposed')!.offset, base.offset);
    assert.equal(w.get('offset_view')!.offset, base.offset + 10 * 4);
    assert.deepEqual(w.get('expanded')!.strides, [1, 0]);
    assert.equal(w.get('empty')!.byteLength, 0);
    assert.deepEqual(w.get('scalar')!.shape, []);
  });

  it('leaves out BatchNorm step counters (int64, training only) but refuses other integer tensors', async () => {
    const w = await readTorchArchive(join(dir, cases.good.module_state_dict!));
    assert.ok(w.has('1.running_mean') && !w.has('1.num_batches_tracked'));
    await rejectsCode(readTorchArchive(join(dir, cases.bad.int_weight!)), 'CHECKPOINT_INVALID', /"i" is Long/);
  });

  const refusals: Array<[string, RegExp]> = [
    ['legacy', /no end-of-central-directory record.*legacy/],
    ['evil', /global "posix\.system" is not allowed/],
    ['not_tensor', /entry "n" is a number, not a tensor/],
    ['nested', /entry "m" is a dict, not a tensor/],
    ['deflated', /compressed \(method 8\)/],
    ['duplicate', /two entries are named ".*data\.pkl"/],
    ['short_storage', /the entry holds 8/],
    ['past_end', /reaches element 5 of a 4-element storage/],
    ['stride_past_end', /reaches element 5 of a 4-element storage/],
    ['offset_past_end', /starts at element 9 of a 4-element storage/],
    ['missing_storage', /no data\/1 entry/],
    ['hooks', /backward hooks/],
  ];
  for (const [name, pattern] of refusals) {
    it(`refuses ${name.replace(/_/g, ' ')} with CHECKPOINT_INVALID naming the file`, async () => {
      const file = join(dir, cases.bad[name]!);
      await rejectsCode(readTorchArchive(file), 'CHECKPOINT_INVALID', new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${pattern.source}`));
    });
  }
});

describe('checkpoint/torch-archive: damaged archives (no Python needed)', () => {
  const bin = readFileSync(join(FIXTURES, 'wav2vec2-bin', 'pytorch_model.bin'));

  it('refuses every truncation of a real archive with CHECKPOINT_INVALID', () => {
    for (let n = 0; n < bin.length; n += 997) throwsCode(() => parseTorchArchiveBytes('cut.bin', bin.subarray(0, n)), 'CHECKPOINT_INVALID', /^cut\.bin: /);
  });

  it('refuses a central directory offset that points elsewhere', () => {
    const b = Buffer.from(bin);
    const eocd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const z64 = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]));
    b.writeBigUInt64LE(b.readBigUInt64LE(z64 + 48) + 1n, z64 + 48);
    throwsCode(() => parseTorchArchiveBytes('moved.bin', b), 'CHECKPOINT_INVALID', /zip64 and classic end records disagree/);
    b.writeUInt32LE(b.readUInt32LE(eocd + 16) + 1, eocd + 16);
    throwsCode(() => parseTorchArchiveBytes('moved.bin', b), 'CHECKPOINT_INVALID', /central directory .* runs past the end record/);
  });

  it('refuses an entry whose size runs past the end of the file', () => {
    const b = Buffer.from(bin);
    const cd = b.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    b.writeUInt32LE(0x7ffffff0, cd + 20);
    b.writeUInt32LE(0x7ffffff0, cd + 24);
    throwsCode(() => parseTorchArchiveBytes('big.bin', b), 'CHECKPOINT_INVALID', /spans bytes|overlap/);
  });

  it('writes nothing and reads no tensor data: only the directory, headers and pickle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-torch-archive-'));
    try {
      const file = join(dir, 'x.bin');
      writeFileSync(file, bin);
      const w = parseTorchArchiveBytes(file, bin);
      assert.equal(w.size, 49);
      for (const ref of w.values()) assert.ok(ref.offset % 64 === 0, `${ref.name} data is 64-byte aligned as torch writes it`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
