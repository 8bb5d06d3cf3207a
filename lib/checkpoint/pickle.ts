/**
 * An allow-listed, weights-only unpickler for the `data.pkl` of a torch.save state dict (pickle protocol 2, what
 * torch.save writes by default). It runs no code: the only globals it knows are the few a state dict names
 * (OrderedDict, torch's tensor rebuild functions, the typed storage classes), the only calls it makes are those
 * rebuilds, and every other opcode or global is refused with CHECKPOINT_INVALID naming it. LibTorch's own unpickler
 * is not used because malformed input crashes it (pytorch issues 77573, 169570, 179581).
 *
 * Memo, stack, mark depth and output are bounded, and no value is walked recursively, so a hostile pickle can only
 * make this throw.
 */
import { Wav2Vec2Error } from '../errors';

/** A storage as the pickle names it (its bytes are archive entry `data/<key>`). */
export interface PickledStorage {
  key: string;
  /** torch's storage class name without "Storage": Float, Half, BFloat16, Double, Long, ... */
  kind: StorageKind;
  numel: number;
}

export interface PickledTensor {
  storage: PickledStorage;
  /** In elements of the storage. */
  offset: number;
  shape: number[];
  strides: number[];
}

export const STORAGE_KINDS = ['Float', 'Half', 'BFloat16', 'Double', 'Long', 'Int', 'Short', 'Char', 'Byte', 'Bool'] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];

export const MAX_STACK = 1_000_000;
export const MAX_MARKS = 10_000;
export const MAX_MEMO = 4_000_000;
export const MAX_TENSORS = 1_000_000;
/**
 * Containers (dicts, lists, tuples) one pickle may make. A state dict makes about ten per tensor; the bound keeps
 * a pickle of nothing but EMPTY_DICT / EMPTY_TUPLE opcodes from allocating gigabytes before it is refused.
 */
export const MAX_OBJECTS = 1_000_000;
/** torch tensors have at most 64 dimensions; a checkpoint tensor has far fewer. */
export const MAX_DIMS = 16;

class Tuple {
  constructor(readonly items: Value[]) {}
}
class List {
  readonly items: Value[] = [];
}
/** The Map is made on the first insert: a run of empty dicts (a hostile pickle's cheapest object) stays cheap. */
class Dict {
  private entries: Map<string | number, Value> | null = null;
  get size(): number {
    return this.entries?.size ?? 0;
  }
  has(k: string | number): boolean {
    return this.entries?.has(k) ?? false;
  }
  set(k: string | number, v: Value): void {
    (this.entries ??= new Map()).set(k, v);
  }
  [Symbol.iterator](): IterableIterator<[string | number, Value]> {
    return (this.entries ?? new Map<string | number, Value>()).entries();
  }
}
class Global {
  constructor(readonly module: string, readonly name: string) {}
  get full(): string {
    return `${this.module}.${this.name}`;
  }
}
type Value = null | boolean | number | string | Tuple | List | Dict | Global | PickledStorage | PickledTensor;

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...STORAGE_KINDS.map((k) => `torch.${k}Storage`),
]);

const OPNAMES: Record<number, string> = {
  0x80: 'PROTO', 0x2e: 'STOP', 0x28: 'MARK', 0x7d: 'EMPTY_DICT', 0x5d: 'EMPTY_LIST', 0x29: 'EMPTY_TUPLE', 0x74: 'TUPLE',
  0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1',
  0x58: 'BINUNICODE', 0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x63: 'GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD',
  0x73: 'SETITEM', 0x75: 'SETITEMS', 0x61: 'APPEND', 0x65: 'APPENDS', 0x51: 'BINPERSID', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x68: 'BINGET', 0x6a: 'LONG_BINGET',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Unpickles a state dict: tensor name → where its elements are in which storage. */
export function unpickleStateDict(file: string, bytes: Buffer): Map<string, PickledTensor> {
  return new Unpickler(file, bytes).run();
}

class Unpickler {
  private pos = 0;
  private stack: Value[] = [];
  private marks: Value[][] = [];
  private readonly memo = new Map<number, Value>();
  private readonly storages = new Map<string, PickledStorage>();
  private tensors = 0;
  private objects = 0;
  /** Values on the stacks the marks hold: with the current stack, bounded together by MAX_STACK. */
  private below = 0;
  /** Where the opcode being run starts, for messages. */
  private opAt = 0;

  constructor(private readonly file: string, private readonly b: Buffer) {}

  fail(what: string): never {
    throw new Wav2Vec2Error('CHECKPOINT_INVALID', `${this.file}: not a weights-only state dict pickle: ${what} (data.pkl byte ${this.opAt}).`);
  }

  run(): Map<string, PickledTensor> {
    for (;;) {
      if (this.pos >= this.b.length) this.fail('it ends without a STOP opcode');
      this.opAt = this.pos;
      const op = this.b[this.pos++]!;
      if (op === 0x2e) return this.finish();
      this.step(op);
      if (this.below + this.stack.length > MAX_STACK) this.fail(`its stack grows past ${MAX_STACK} values`);
    }
  }

  private finish(): Map<string, PickledTensor> {
    if (this.stack.length !== 1 || this.marks.length !== 0) this.fail('STOP leaves more than one value');
    const top = this.stack[0]!;
    if (!(top instanceof Dict)) this.fail(`the pickled object is ${kindOf(top)}, not a state dict`);
    const out = new Map<string, PickledTensor>();
    for (const [k, v] of top) {
      if (typeof k !== 'string') this.fail(`the state dict has a key of type ${typeof k}`);
      if (!isTensor(v)) this.fail(`state dict entry "${k}" is ${kindOf(v)}, not a tensor (a checkpoint that wraps its state dict is not supported)`);
      out.set(k, v);
    }
    return out;
  }

  private step(op: number): void {
    switch (op) {
      case 0x80: { const v = this.u8(); if (v < 2 || v > 5) this.fail(`protocol ${v}`); return; }
      case 0x28: if (this.marks.length >= MAX_MARKS) this.fail(`marks nest deeper than ${MAX_MARKS}`); this.below += this.stack.length; this.marks.push(this.stack); this.stack = []; return;
      case 0x7d: this.stack.push(this.made(new Dict())); return;
      case 0x5d: this.stack.push(this.made(new List())); return;
      case 0x29: this.stack.push(this.made(new Tuple([]))); return;
      case 0x74: { const items = this.popMark(); this.stack.push(this.made(new Tuple(items))); return; }
      case 0x85: case 0x86: case 0x87: { const n = op - 0x84; this.need(n, 'TUPLE'); this.stack.push(this.made(new Tuple(this.stack.splice(-n)))); return; }
      case 0x4a: this.stack.push(this.take(4).readInt32LE(0)); return;
      case 0x4b: this.stack.push(this.u8()); return;
      case 0x4d: this.stack.push(this.take(2).readUInt16LE(0)); return;
      case 0x8a: this.stack.push(this.long1()); return;
      case 0x58: this.stack.push(this.unicode()); return;
      case 0x4e: this.stack.push(null); return;
      case 0x88: this.stack.push(true); return;
      case 0x89: this.stack.push(false); return;
      case 0x63: this.stack.push(this.global()); return;
      case 0x52: { this.need(2, 'REDUCE'); const args = this.pop(); this.stack.push(this.reduce(this.pop(), args)); return; }
      case 0x62: { this.need(2, 'BUILD'); const state = this.pop(); this.build(this.top(), state); return; }
      case 0x73: { this.need(3, 'SETITEM'); const v = this.pop(); const k = this.pop(); this.setItem(this.top(), k, v); return; }
      case 0x75: { const items = this.popMark(); this.need(1, 'SETITEMS'); if (items.length % 2) this.fail('SETITEMS with an odd number of values'); const d = this.top(); for (let i = 0; i < items.length; i += 2) this.setItem(d, items[i]!, items[i + 1]!); return; }
      case 0x61: { this.need(2, 'APPEND'); const v = this.pop(); this.append(this.top(), [v]); return; }
      case 0x65: { const items = this.popMark(); this.need(1, 'APPENDS'); this.append(this.top(), items); return; }
      case 0x51: { this.need(1, 'BINPERSID'); this.stack.push(this.storage(this.pop())); return; }
      case 0x71: this.put(this.u8()); return;
      case 0x72: this.put(this.take(4).readUInt32LE(0)); return;
      case 0x68: this.get(this.u8()); return;
      case 0x6a: this.get(this.take(4).readUInt32LE(0)); return;
      default:
        this.fail(`opcode ${OPNAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} is not allowed in a weights-only state dict`);
    }
  }

  private take(n: number): Buffer {
    if (this.pos + n > this.b.length) this.fail(`it ends inside an opcode's argument`);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(): number {
    return this.take(1)[0]!;
  }

  private long1(): number {
    const n = this.u8();
    if (n > 8) this.fail(`a ${n}-byte integer`);
    const bytes = this.take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (n > 0 && bytes[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`the integer ${v} is too large`);
    return Number(v);
  }

  private unicode(): string {
    const n = this.take(4).readUInt32LE(0);
    try {
      return utf8.decode(this.take(n));
    } catch (err) {
      if (err instanceof Wav2Vec2Error) throw err;
      return this.fail(`a string at byte ${this.pos - n} is not UTF-8`);
    }
  }

  private line(): string {
    const end = this.b.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > 256) this.fail('GLOBAL without a short newline-terminated name');
    const s = this.b.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return s;
  }

  private global(): Global {
    const g = new Global(this.line(), this.line());
    if (!ALLOWED_GLOBALS.has(g.full)) this.fail(`global ${JSON.stringify(g.full)} is not allowed in a weights-only state dict`);
    return g;
  }

  private need(n: number, what: string): void {
    if (this.stack.length < n) this.fail(`${what} on a stack of ${this.stack.length}`);
  }

  private pop(): Value {
    const v = this.stack.pop();
    if (v === undefined) this.fail('a pop from an empty stack');
    return v;
  }

  private top(): Value {
    return this.stack[this.stack.length - 1]!;
  }

  private popMark(): Value[] {
    const items = this.stack;
    const below = this.marks.pop();
    if (!below) this.fail('an opcode that needs a MARK without one');
    this.stack = below;
    this.below -= below.length;
    return items;
  }

  private made<T extends Value>(v: T): T {
    if (++this.objects > MAX_OBJECTS) this.fail(`more than ${MAX_OBJECTS} dicts, lists and tuples`);
    return v;
  }

  private put(i: number): void {
    this.need(1, 'PUT');
    if (this.memo.size >= MAX_MEMO && !this.memo.has(i)) this.fail(`its memo grows past ${MAX_MEMO} entries`);
    this.memo.set(i, this.top());
  }

  private get(i: number): void {
    if (!this.memo.has(i)) this.fail(`GET of memo entry ${i}, which was never PUT`);
    this.stack.push(this.memo.get(i)!);
  }

  private setItem(d: Value, k: Value, v: Value): void {
    if (!(d instanceof Dict)) this.fail(`SETITEM on ${kindOf(d)}`);
    if (typeof k !== 'string' && typeof k !== 'number') this.fail(`a dict key that is ${kindOf(k)}`);
    if (d.has(k)) this.fail(`the key ${JSON.stringify(k)} appears twice in one dict`);
    d.set(k, v);
  }

  private append(l: Value, items: Value[]): void {
    if (!(l instanceof List)) this.fail(`APPEND on ${kindOf(l)}`);
    if (l.items.length + items.length > MAX_STACK) this.fail(`a list longer than ${MAX_STACK}`);
    // A loop, not push(...items): spreading a long run of values as arguments overflows the call stack.
    for (const v of items) l.items.push(v);
  }

  /** BUILD is only OrderedDict's: the state dict's `_metadata` attribute, which a loader does not need. */
  private build(target: Value, state: Value): void {
    if (!(target instanceof Dict) || !(state instanceof Dict || state === null)) this.fail(`BUILD of ${kindOf(state)} on ${kindOf(target)}`);
  }

  private reduce(fn: Value, args: Value): Value {
    if (!(fn instanceof Global)) this.fail(`REDUCE of ${kindOf(fn)}, which is not callable`);
    if (!(args instanceof Tuple)) this.fail(`REDUCE of ${fn.full} with ${kindOf(args)} as its arguments`);
    const a = args.items;
    switch (fn.full) {
      case 'collections.OrderedDict':
        if (a.length !== 0) this.fail('OrderedDict called with arguments');
        return this.made(new Dict());
      case 'torch._utils._rebuild_tensor_v2':
        return this.rebuildTensor(a);
      case 'torch._utils._rebuild_parameter':
        if (a.length !== 3 || !isTensor(a[0]!) || typeof a[1] !== 'boolean' || !isEmptyDict(a[2]!)) this.fail('_rebuild_parameter with arguments other than (tensor, requires_grad, {})');
        return a[0] as PickledTensor;
      default:
        return this.fail(`${fn.full} is not callable in a weights-only state dict`);
    }
  }

  /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
  private rebuildTensor(a: Value[]): PickledTensor {
    if (a.length !== 6 && a.length !== 7) this.fail(`_rebuild_tensor_v2 with ${a.length} arguments`);
    const [storage, offset, size, stride, requiresGrad, hooks] = a;
    if (!isStorage(storage!)) this.fail(`_rebuild_tensor_v2 of ${kindOf(storage!)}, not a storage`);
    if (!isCount(offset!)) this.fail(`a tensor's storage offset is ${kindOf(offset!)}`);
    const shape = this.ints(size!, 'size');
    const strides = this.ints(stride!, 'stride');
    if (shape.length !== strides.length) this.fail(`a tensor has ${shape.length} sizes and ${strides.length} strides`);
    if (typeof requiresGrad !== 'boolean' || !isEmptyDict(hooks!)) this.fail('_rebuild_tensor_v2 with requires_grad or backward hooks of the wrong kind');
    if (a.length === 7 && !(a[6] instanceof Dict || a[6] === null)) this.fail(`tensor metadata that is ${kindOf(a[6]!)}`);
    if (++this.tensors > MAX_TENSORS) this.fail(`more than ${MAX_TENSORS} tensors`);
    return { storage, offset, shape, strides };
  }

  private ints(v: Value, what: string): number[] {
    if (!(v instanceof Tuple) || v.items.length > MAX_DIMS || !v.items.every(isCount)) this.fail(`a tensor's ${what} is not a tuple of at most ${MAX_DIMS} non-negative integers`);
    return v.items as number[];
  }

  /** BINPERSID: ('storage', torch.<Kind>Storage, key, location, numel); one storage per key. */
  private storage(pid: Value): PickledStorage {
    if (!(pid instanceof Tuple) || pid.items.length !== 5) this.fail(`a persistent id that is ${kindOf(pid)}, not a 5-tuple`);
    const [tag, type, key, location, numel] = pid.items;
    if (tag !== 'storage' || !(type instanceof Global) || type.module !== 'torch' || typeof key !== 'string' || typeof location !== 'string' || !isCount(numel!)) {
      this.fail('a persistent id that is not (\'storage\', storage type, key, location, numel)');
    }
    const kind = type.name.slice(0, -'Storage'.length) as StorageKind;
    const known = this.storages.get(key);
    if (known) {
      if (known.kind !== kind || known.numel !== numel) this.fail(`storage "${key}" is named twice with different types or sizes`);
      return known;
    }
    const s: PickledStorage = { key, kind, numel };
    this.storages.set(key, s);
    return s;
  }
}

function isCount(v: Value): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isStorage(v: Value): v is PickledStorage {
  return typeof v === 'object' && v !== null && 'kind' in v && 'numel' in v && 'key' in v;
}

function isTensor(v: Value): v is PickledTensor {
  return typeof v === 'object' && v !== null && 'storage' in v && 'strides' in v;
}

function isEmptyDict(v: Value): boolean {
  return v instanceof Dict && v.size === 0;
}

function kindOf(v: Value): string {
  if (v === null) return 'None';
  if (typeof v !== 'object') return `a ${typeof v}`;
  if (v instanceof Tuple) return `a tuple of ${v.items.length}`;
  if (v instanceof List) return 'a list';
  if (v instanceof Dict) return 'a dict';
  if (v instanceof Global) return `the global ${v.full}`;
  return isStorage(v) ? 'a storage' : 'a tensor';
}
