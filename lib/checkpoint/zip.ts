/**
 * The central directory of a zip archive as torch.save writes it (PyTorch's miniz-based PyTorchStreamWriter):
 * every entry STORED (uncompressed), a zip64 end record even for small files, sizes only in the central directory
 * (general-purpose flag bit 3: the local headers carry zeros and a data descriptor follows the data), and padding in
 * each local header's extra field so that the data starts on a 64-byte boundary.
 *
 * Nothing is decompressed and no entry is trusted: every offset and length is checked against the file, entries
 * must not overlap each other or the directory, names must be unique, and anything that is not a plain STORED,
 * unencrypted, single-disk entry is refused. The result is where each entry's bytes are, never the bytes.
 */
import { Wav2Vec2Error } from '../errors';
import type { ByteSource } from './source';

export interface ZipEntry {
  name: string;
  /** Absolute offset of the entry's first data byte. */
  dataOffset: number;
  size: number;
}

/** More entries than any state dict has (one per storage plus a few records); bounds the directory we parse. */
export const MAX_ENTRIES = 1_000_000;
/** 1 MiB per 3,000 entries at most is what torch writes; 256 MiB is far past any real directory. */
export const MAX_DIRECTORY_BYTES = 256 * 1024 * 1024;

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const EOCD_BYTES = 22;
const MAX_COMMENT = 0xffff;

export function zipError(file: string, what: string): Wav2Vec2Error {
  return new Wav2Vec2Error('CHECKPOINT_INVALID', `${file}: not a valid torch.save archive: ${what}.`);
}

interface Directory {
  entries: number;
  offset: number;
  size: number;
}

/** Reads and checks the archive's directory; returns its entries by name. */
export function readZipDirectory(src: ByteSource): Map<string, ZipEntry> {
  const dir = findDirectory(src);
  const raw = src.read(dir.offset, dir.size);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < dir.entries; i++) {
    const { entry, next } = centralEntry(src, raw, p, dir.offset);
    if (entries.has(entry.name)) throw zipError(src.name, `two entries are named "${entry.name}"`);
    entries.set(entry.name, entry);
    p = next;
  }
  if (p !== raw.length) throw zipError(src.name, `the central directory holds ${raw.length - p} bytes after its ${dir.entries} entries`);
  checkNoOverlap(src.name, [...entries.values()], dir);
  return entries;
}

/** The end-of-central-directory record (and its zip64 twin when present): where the directory is. */
function findDirectory(src: ByteSource): Directory {
  if (src.size < EOCD_BYTES) throw zipError(src.name, `${src.size} bytes is shorter than a zip end record`);
  const tailLength = Math.min(src.size, EOCD_BYTES + MAX_COMMENT);
  const tailStart = src.size - tailLength;
  const tail = src.read(tailStart, tailLength);
  let at = -1;
  // The record ends the file except for its comment; scan back for a signature whose comment length fits exactly.
  for (let i = tail.length - EOCD_BYTES; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD && i + EOCD_BYTES + tail.readUInt16LE(i + 20) === tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw zipError(src.name, 'no end-of-central-directory record (is it a legacy pre-1.6 torch.save file, or truncated?)');
  const diskNo = tail.readUInt16LE(at + 4);
  const cdDisk = tail.readUInt16LE(at + 6);
  const onDisk = tail.readUInt16LE(at + 8);
  const dir: Directory = { entries: tail.readUInt16LE(at + 10), size: tail.readUInt32LE(at + 12), offset: tail.readUInt32LE(at + 16) };
  if (diskNo !== 0 || cdDisk !== 0 || onDisk !== dir.entries) throw zipError(src.name, 'it spans several disks');
  const eocdOffset = tailStart + at;
  const locatorAt = at - 20;
  const z64 = locatorAt >= 0 && tail.readUInt32LE(locatorAt) === ZIP64_LOCATOR ? zip64Directory(src, tail, locatorAt, tailStart) : null;
  const recordStart = z64 ? z64.recordOffset : eocdOffset;
  const chosen = z64 ? reconcile(src.name, dir, z64.dir) : dir;
  if (chosen.entries > MAX_ENTRIES) throw zipError(src.name, `${chosen.entries} entries; the limit is ${MAX_ENTRIES}`);
  if (chosen.size > MAX_DIRECTORY_BYTES) throw zipError(src.name, `a ${chosen.size}-byte central directory; the limit is ${MAX_DIRECTORY_BYTES}`);
  if (chosen.offset + chosen.size > recordStart) {
    throw zipError(src.name, `the central directory [${chosen.offset}, ${chosen.offset + chosen.size}) runs past the end record at ${recordStart}`);
  }
  if (chosen.entries * 46 > chosen.size) throw zipError(src.name, `${chosen.entries} entries cannot fit in a ${chosen.size}-byte central directory`);
  return chosen;
}

function zip64Directory(src: ByteSource, tail: Buffer, locatorAt: number, tailStart: number): { dir: Directory; recordOffset: number } {
  if (tail.readUInt32LE(locatorAt + 4) !== 0 || tail.readUInt32LE(locatorAt + 16) > 1) throw zipError(src.name, 'its zip64 locator names another disk');
  const recordOffset = u64(src.name, tail, locatorAt + 8, 'the zip64 end record offset');
  if (recordOffset + 56 > tailStart + locatorAt) throw zipError(src.name, `the zip64 end record at ${recordOffset} overlaps its locator`);
  const rec = src.read(recordOffset, 56);
  if (rec.readUInt32LE(0) !== ZIP64_EOCD) throw zipError(src.name, `no zip64 end record at ${recordOffset}, where the locator points`);
  if (rec.readUInt32LE(16) !== 0 || rec.readUInt32LE(20) !== 0) throw zipError(src.name, 'its zip64 end record names another disk');
  const onDisk = u64(src.name, rec, 24, 'the zip64 entry count');
  const entries = u64(src.name, rec, 32, 'the zip64 entry count');
  if (onDisk !== entries) throw zipError(src.name, 'it spans several disks');
  return { dir: { entries, size: u64(src.name, rec, 40, 'the zip64 directory size'), offset: u64(src.name, rec, 48, 'the zip64 directory offset') }, recordOffset };
}

/** A value the classic record saturated (0xFFFF...) defers to zip64; one it holds must agree. */
function reconcile(file: string, classic: Directory, z64: Directory): Directory {
  const agree = (a: number, b: number, max: number) => a === max || a === b;
  if (!agree(classic.entries, z64.entries, 0xffff) || !agree(classic.size, z64.size, 0xffffffff) || !agree(classic.offset, z64.offset, 0xffffffff)) {
    throw zipError(file, 'its zip64 and classic end records disagree');
  }
  return z64;
}

function u64(file: string, b: Buffer, at: number, what: string): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw zipError(file, `${what} is ${v}`);
  return Number(v);
}

/** One central directory entry at `p` of the directory bytes, checked, with its local header read and checked. */
function centralEntry(src: ByteSource, raw: Buffer, p: number, dirOffset: number): { entry: ZipEntry; next: number } {
  if (p + 46 > raw.length || raw.readUInt32LE(p) !== CENTRAL) throw zipError(src.name, `no central directory entry at byte ${dirOffset + p}`);
  const flags = raw.readUInt16LE(p + 8);
  const method = raw.readUInt16LE(p + 10);
  let csize = raw.readUInt32LE(p + 20);
  let usize = raw.readUInt32LE(p + 24);
  const nameLen = raw.readUInt16LE(p + 28);
  const extraLen = raw.readUInt16LE(p + 30);
  const commentLen = raw.readUInt16LE(p + 32);
  const disk = raw.readUInt16LE(p + 34);
  let local = raw.readUInt32LE(p + 42);
  const next = p + 46 + nameLen + extraLen + commentLen;
  if (next > raw.length) throw zipError(src.name, `the central directory entry at byte ${dirOffset + p} runs past the directory`);
  const nameBytes = raw.subarray(p + 46, p + 46 + nameLen);
  const name = decodeName(src.name, nameBytes);
  if (flags & 0x41) throw zipError(src.name, `entry "${name}" is encrypted`);
  if (method !== 0) throw zipError(src.name, `entry "${name}" is compressed (method ${method}); torch.save stores entries uncompressed`);
  if (disk !== 0 && disk !== 0xffff) throw zipError(src.name, `entry "${name}" is on another disk`);
  const z64 = zip64Extra(src.name, name, raw.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), { usize, csize, local });
  ({ usize, csize, local } = z64);
  if (csize !== usize) throw zipError(src.name, `entry "${name}" is stored with ${csize} bytes but claims ${usize} uncompressed`);
  const dataOffset = localData(src, name, nameBytes, local);
  if (dataOffset + usize > src.size) throw zipError(src.name, `entry "${name}" spans bytes [${dataOffset}, ${dataOffset + usize}) of a ${src.size}-byte file`);
  return { entry: { name, dataOffset, size: usize }, next };
}

function decodeName(file: string, bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw zipError(file, 'an entry name is not UTF-8');
  }
}

/** The zip64 extended-information extra field (id 1): the 64-bit values of the fields saturated at 0xFFFFFFFF. */
function zip64Extra(file: string, name: string, extra: Buffer, v: { usize: number; csize: number; local: number }) {
  const out = { ...v };
  let q = 0;
  let seen = false;
  while (q + 4 <= extra.length) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (q + 4 + len > extra.length) throw zipError(file, `entry "${name}" has an extra field that runs past its end`);
    if (id === 1) {
      if (seen) throw zipError(file, `entry "${name}" has two zip64 extra fields`);
      seen = true;
      const body = extra.subarray(q + 4, q + 4 + len);
      let r = 0;
      for (const key of ['usize', 'csize', 'local'] as const) {
        if (out[key] !== 0xffffffff) continue;
        if (r + 8 > body.length) throw zipError(file, `entry "${name}" has a zip64 extra field too short for its ${key}`);
        out[key] = u64(file, body, r, `entry "${name}"'s zip64 ${key}`);
        r += 8;
      }
    }
    q += 4 + len;
  }
  for (const key of ['usize', 'csize', 'local'] as const) {
    if (out[key] === 0xffffffff && !seen) throw zipError(file, `entry "${name}" defers its ${key} to a zip64 field it does not have`);
  }
  return out;
}

/** Reads the local header at `offset`; checks it names the same entry; returns where the data starts. */
function localData(src: ByteSource, name: string, nameBytes: Buffer, offset: number): number {
  if (offset + 30 > src.size) throw zipError(src.name, `entry "${name}"'s local header at ${offset} is past the end of the file`);
  const h = src.read(offset, 30);
  if (h.readUInt32LE(0) !== LOCAL) throw zipError(src.name, `no local header for entry "${name}" at byte ${offset}`);
  if (h.readUInt16LE(8) !== 0) throw zipError(src.name, `entry "${name}"'s local header says it is compressed`);
  const nameLen = h.readUInt16LE(26);
  const extraLen = h.readUInt16LE(28);
  const dataOffset = offset + 30 + nameLen + extraLen;
  if (dataOffset > src.size) throw zipError(src.name, `entry "${name}"'s local header runs past the end of the file`);
  if (nameLen !== nameBytes.length || !src.read(offset + 30, nameLen).equals(nameBytes)) {
    throw zipError(src.name, `the local header at ${offset} does not name entry "${name}"`);
  }
  return dataOffset;
}

/** No two entries (local header to end of data) overlap each other or the central directory. */
function checkNoOverlap(file: string, entries: ZipEntry[], dir: Directory): void {
  const spans = entries.map((e) => [e.dataOffset, e.dataOffset + e.size, e.name] as const);
  spans.push([dir.offset, dir.offset + dir.size, '(central directory)']);
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]![0] < spans[i - 1]![1]) throw zipError(file, `entries "${spans[i - 1]![2]}" and "${spans[i]![2]}" overlap`);
  }
}
