/**
 * The weights-only unpickler on hand-built pickles: the opcodes and shapes torch.save never writes but a hostile
 * file can. (What torch.save does write is tested against torch.load in torch-archive.test.ts.)
 */
import assert from 'node:assert/strict';
import { MAX_MARKS, MAX_OBJECTS, MAX_STACK, unpickleStateDict } from '../../lib/checkpoint/pickle';
import { throwsCode } from '../helpers/errors';

const PROTO = [0x80, 2];
const STOP = [0x2e];
const bytes = (...parts: Array<number[] | string | Buffer>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const unicode = (s: string) => { const b = Buffer.from(s, 'utf8'); const n = Buffer.alloc(4); n.writeUInt32LE(b.length); return bytes([0x58], [...n], [...b]); };
const ORDERED_DICT = bytes('ccollections\nOrderedDict\n', [0x29, 0x52]);
/** {name: tensor of `numel` floats in storage "0", with `size` and `stride`}. */
function tensorPickle(name: string, numel: number, offset: number, size: number[], stride: number[]): Buffer {
  const tuple = (xs: number[]) => bytes([0x28], ...xs.map((x) => [0x4a, ...int32(x)]), [0x74]);
  return bytes(PROTO, [0x7d], unicode(name), 'ctorch._utils\n_rebuild_tensor_v2\n', [0x28],
    [0x28], unicode('storage'), 'ctorch\nFloatStorage\n', unicode('0'), unicode('cpu'), [0x4a, ...int32(numel)], [0x74], [0x51],
    [0x4a, ...int32(offset)], tuple(size), tuple(stride), [0x89], ORDERED_DICT, [0x74], [0x52], [0x73], STOP);
}
function int32(x: number): number[] {
  const b = Buffer.alloc(4);
  b.writeInt32LE(x);
  return [...b];
}

describe('checkpoint/pickle: weights-only unpickler', () => {
  it('reads a minimal state dict and its storage reference', () => {
    const t = unpickleStateDict('p', tensorPickle('w', 6, 1, [2, 2], [2, 1])).get('w')!;
    assert.deepEqual(t, { storage: { key: '0', kind: 'Float', numel: 6 }, offset: 1, shape: [2, 2], strides: [2, 1] });
  });

  const refusals: Array<[string, Buffer, RegExp]> = [
    ['a global outside the allow-list', bytes(PROTO, 'cbuiltins\neval\n', STOP), /global "builtins\.eval" is not allowed/],
    ['an opcode outside the allow-list (INST)', bytes(PROTO, [0x28], 'ios\nsystem\n', STOP), /opcode 0x69 is not allowed/],
    ['BINFLOAT', bytes(PROTO, [0x47, 0, 0, 0, 0, 0, 0, 0, 0], STOP), /opcode 0x47/],
    ['protocol 1', bytes([0x80, 1], [0x7d], STOP), /protocol 1/],
    ['no STOP', bytes(PROTO, [0x7d]), /ends without a STOP/],
    ['two values left at STOP', bytes(PROTO, [0x7d, 0x7d], STOP), /STOP leaves more than one value/],
    ['a list instead of a dict', bytes(PROTO, [0x5d], STOP), /a list, not a state dict/],
    ['a GET of an entry never PUT', bytes(PROTO, [0x68, 7], STOP), /memo entry 7, which was never PUT/],
    ['a REDUCE on an empty stack', bytes(PROTO, [0x52], STOP), /REDUCE on a stack of 0/],
    ['SETITEMS without a MARK', bytes(PROTO, [0x7d, 0x75], STOP), /without one/],
    ['a 9-byte LONG1', bytes(PROTO, [0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9], STOP), /a 9-byte integer/],
    ['a string running past the end', bytes(PROTO, [0x58, 0xff, 0xff, 0, 0, 0x41], STOP), /ends inside an opcode's argument/],
    ['a string that is not UTF-8', bytes(PROTO, [0x58, 2, 0, 0, 0, 0xc3, 0x28], STOP), /not UTF-8/],
    ['a GLOBAL without a newline', bytes(PROTO, 'ccollections', STOP), /GLOBAL without a short newline-terminated name/],
    ['OrderedDict called with arguments', bytes(PROTO, 'ccollections\nOrderedDict\n', [0x28, 0x4b, 1, 0x74, 0x52], STOP), /OrderedDict called with arguments/],
    ['a duplicate key', bytes(PROTO, [0x7d], [0x28], unicode('a'), [0x4e], unicode('a'), [0x4e], [0x75], STOP), /the key "a" appears twice/],
    ['a BUILD on a storage type', bytes(PROTO, 'ctorch\nFloatStorage\n', [0x7d, 0x62], STOP), /BUILD of a dict on the global torch\.FloatStorage/],
    ['a persistent id that is not a storage', bytes(PROTO, unicode('x'), [0x51], STOP), /persistent id that is a string/],
    ['a storage named twice with different sizes', bytes(PROTO, [0x28], unicode('storage'), 'ctorch\nFloatStorage\n', unicode('0'), unicode('cpu'), [0x4b, 4, 0x74, 0x71, 1, 0x51, 0x28], unicode('storage'), 'ctorch\nFloatStorage\n', unicode('0'), unicode('cpu'), [0x4b, 5, 0x74, 0x51], STOP), /storage "0" is named twice/],
    ['sizes and strides of different lengths', tensorPickle('w', 6, 0, [2, 3], [3]), /2 sizes and 1 strides/],
    ['a negative storage offset', tensorPickle('w', 6, -1, [2], [1]), /storage offset is a number|not a tuple/],
    ['a negative size', tensorPickle('w', 6, 0, [-2], [1]), /size is not a tuple of at most 16 non-negative integers/],
  ];
  for (const [what, pkl, pattern] of refusals) {
    it(`refuses ${what} with CHECKPOINT_INVALID`, () => throwsCode(() => unpickleStateDict('x.pkl', pkl), 'CHECKPOINT_INVALID', new RegExp(`^x\\.pkl: not a weights-only state dict pickle: .*${pattern.source}`)));
  }

  it('bounds nesting, and survives long runs of values without a stack overflow', () => {
    throwsCode(() => unpickleStateDict('x.pkl', bytes(PROTO, new Array(MAX_MARKS + 1).fill(0x28), STOP)), 'CHECKPOINT_INVALID', /marks nest deeper than/);
    const many = 300_000;
    const ints = Buffer.alloc(many * 2);
    for (let i = 0; i < many; i++) ints.writeUInt16LE(0x004b, i * 2);
    throwsCode(() => unpickleStateDict('x.pkl', bytes(PROTO, [0x5d, 0x28], [...ints], [0x65], STOP)), 'CHECKPOINT_INVALID', /a list, not a state dict/);
    throwsCode(() => unpickleStateDict('x.pkl', bytes(PROTO, [0x28], [...ints], [0x74], STOP)), 'CHECKPOINT_INVALID', /a tuple of 300000, not a state dict/);
  });

  it('bounds the objects a pickle makes and the values all its stacks hold together, not per mark', () => {
    throwsCode(() => unpickleStateDict('x.pkl', bytes(PROTO, Buffer.alloc(MAX_OBJECTS + 1, 0x7d), STOP)), 'CHECKPOINT_INVALID', /more than 1000000 dicts, lists and tuples/);
    const segment = Buffer.alloc(MAX_STACK / 4, 0x4e); // None, which is not an object
    throwsCode(() => unpickleStateDict('x.pkl', bytes(PROTO, segment, [0x28], segment, [0x28], segment, [0x28], segment, [0x28], [0x4e], STOP)), 'CHECKPOINT_INVALID', /stack grows past 1000000 values/);
  });
});
