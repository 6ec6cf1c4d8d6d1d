/**
 * PPSPP chunk addressing (RFC 7574 §4): the five methods of the Chunk Addressing Method option
 * (§7.8, Table 6), the chunk specification each puts on the wire (§4.1 start-end ranges, §4.2 bin
 * numbers; 32- or 64-bit big-endian integers), and bin arithmetic.
 *
 * Every peer of a swarm uses one method (§4), so a chunk spec carries no tag on the wire: its width
 * comes from the channel's decode context. Ranges are inclusive at both ends (§4.1), so a range whose
 * end is before its start is malformed. A bin is any value of its width; the all-ones value is the
 * empty interval (§4.2), which is a legal value on the wire but covers no chunk.
 */
import { fail } from '../../../overlay/index.js';
import type { WireReader, WireWriter } from './ppspp-wire-fields.js';

/** The methods by name; the codes are Table 6's. */
export const CHUNK_ADDRESSING_CODE = {
  bins32: 0,
  byteRanges64: 1,
  chunkRanges32: 2,
  bins64: 3,
  chunkRanges64: 4,
} as const;

export type ChunkAddressing = keyof typeof CHUNK_ADDRESSING_CODE;

/** The method a code names, or undefined for an unassigned code (5..255). */
export function chunkAddressingOfCode(code: number): ChunkAddressing | undefined {
  return (Object.keys(CHUNK_ADDRESSING_CODE) as ChunkAddressing[]).find((name) => CHUNK_ADDRESSING_CODE[name] === code);
}

/** True for the methods whose integers are 32 bits wide (the Live Discard Window follows them, §7.9). */
export function is32BitAddressing(addressing: ChunkAddressing): boolean {
  return addressing === 'bins32' || addressing === 'chunkRanges32';
}

/** One chunk specification, tagged with the method it was read or is to be written under. */
export type ChunkSpec =
  | { readonly addressing: 'bins32'; readonly bin: number }
  | { readonly addressing: 'bins64'; readonly bin: bigint }
  | { readonly addressing: 'chunkRanges32'; readonly start: number; readonly end: number }
  | { readonly addressing: 'chunkRanges64' | 'byteRanges64'; readonly start: bigint; readonly end: bigint };

/** Reads one chunk spec; `field` names it in errors (e.g. `have.chunks`). */
export function readChunkSpec(reader: WireReader, addressing: ChunkAddressing, field: string): ChunkSpec {
  switch (addressing) {
    case 'bins32':
      return { addressing, bin: reader.u32(`${field}.bin`) };
    case 'bins64':
      return { addressing, bin: reader.u64(`${field}.bin`) };
    case 'chunkRanges32': {
      const start = reader.u32(`${field}.start`);
      const end = reader.u32(`${field}.end`);
      if (end < start) fail(field, `ends at ${end}, before its start ${start}`, 'out_of_range');
      return { addressing, start, end };
    }
    case 'chunkRanges64':
    case 'byteRanges64': {
      const start = reader.u64(`${field}.start`);
      const end = reader.u64(`${field}.end`);
      if (end < start) fail(field, `ends at ${end}, before its start ${start}`, 'out_of_range');
      return { addressing, start, end };
    }
  }
}

/** Writes one chunk spec, which must be of the channel's method. */
export function writeChunkSpec(writer: WireWriter, spec: ChunkSpec, addressing: ChunkAddressing, field: string): void {
  if (spec?.addressing !== addressing) fail(field, `is addressed as ${String(spec?.addressing)}, the channel uses ${addressing}`);
  switch (spec.addressing) {
    case 'bins32':
      writer.u32(spec.bin, `${field}.bin`);
      return;
    case 'bins64':
      writer.u64(spec.bin, `${field}.bin`);
      return;
    case 'chunkRanges32':
      if (spec.end < spec.start) fail(field, `ends at ${spec.end}, before its start ${spec.start}`, 'out_of_range');
      writer.u32(spec.start, `${field}.start`);
      writer.u32(spec.end, `${field}.end`);
      return;
    case 'chunkRanges64':
    case 'byteRanges64':
      if (spec.end < spec.start) fail(field, `ends at ${spec.end}, before its start ${spec.start}`, 'out_of_range');
      writer.u64(spec.start, `${field}.start`);
      writer.u64(spec.end, `${field}.end`);
      return;
  }
}

// ---- bin numbers (§4.2) ---------------------------------------------------------------------
// A bin at layer L and offset O covers chunks O·2^L .. (O+1)·2^L - 1; its number is
// (2·O + 1)·2^L - 1, i.e. O followed by a 0 bit and L 1 bits. Leaves (single chunks) are the even
// numbers 2·i. Computed on bigint so one set of helpers serves 32- and 64-bit bins.

export type BinWidth = 32 | 64;

/** The empty interval (all ones, §4.2) of a width. */
export function emptyBin(width: BinWidth): bigint {
  return (1n << BigInt(width)) - 1n;
}

/** The bin covering every chunk a width can address ("0x7FFF...FFF", §4.2). */
export function allBin(width: BinWidth): bigint {
  return (1n << BigInt(width - 1)) - 1n;
}

function checkBin(bin: bigint, width: BinWidth): void {
  if (bin < 0n || bin >= emptyBin(width)) throw new RangeError(`bin ${bin} is not a ${width}-bit bin of chunks (the all-ones value is the empty interval)`);
}

/** The layer of a bin: its number of trailing 1 bits (0 for a single chunk). */
export function binLayer(bin: bigint, width: BinWidth): number {
  checkBin(bin, width);
  let layer = 0;
  while ((bin >> BigInt(layer)) & 1n) layer++;
  return layer;
}

/** The offset of a bin among the bins of its layer. */
export function binOffset(bin: bigint, width: BinWidth): bigint {
  return bin >> BigInt(binLayer(bin, width) + 1);
}

/** The bin at `layer` and `offset`; RangeError if it does not fit the width. */
export function binAt(layer: number, offset: bigint, width: BinWidth): bigint {
  if (!Number.isInteger(layer) || layer < 0 || offset < 0n) throw new RangeError(`no bin at layer ${layer}, offset ${offset}`);
  const bin = ((2n * offset + 1n) << BigInt(layer)) - 1n;
  checkBin(bin, width);
  return bin;
}

/** The first and last chunk a bin covers. */
export function binChunks(bin: bigint, width: BinWidth): { first: bigint; last: bigint } {
  const layer = BigInt(binLayer(bin, width));
  const first = (bin >> (layer + 1n)) << layer;
  return { first, last: first + (1n << layer) - 1n };
}

/**
 * The fewest bins that together cover chunks first..last exactly, left to right: each is the
 * largest aligned bin that starts where the previous one ended and stays inside the range.
 */
export function binsOfChunkRange(first: bigint, last: bigint, width: BinWidth): bigint[] {
  if (first < 0n || last < first) throw new RangeError(`no chunks in ${first}..${last}`);
  const bins: bigint[] = [];
  for (let at = first; at <= last; ) {
    let layer = 0n;
    // Grow while the next layer's bin stays aligned at `at` and ends inside the range.
    while (at % (1n << (layer + 1n)) === 0n && at + (1n << (layer + 1n)) - 1n <= last) layer++;
    bins.push(binAt(Number(layer), at >> layer, width));
    at += 1n << layer;
  }
  return bins;
}

/**
 * The chunks a spec names, whatever the sender's addressing: a range as given, a bin's aligned
 * block. Byte ranges (§4.3) are refused: no swarm of ours addresses by byte.
 */
export function chunksOfSpec(spec: ChunkSpec, field: string): { first: number; last: number } {
  switch (spec.addressing) {
    case 'chunkRanges32':
      return { first: spec.start, last: spec.end };
    case 'chunkRanges64':
      if (spec.end > BigInt(Number.MAX_SAFE_INTEGER)) fail(field, `chunk ${spec.end} is beyond any content`, 'out_of_range');
      return { first: Number(spec.start), last: Number(spec.end) };
    case 'bins32':
    case 'bins64': {
      const width: BinWidth = spec.addressing === 'bins32' ? 32 : 64;
      const bin = BigInt(spec.bin);
      if (bin >= emptyBin(width)) fail(field, 'is the empty bin', 'out_of_range');
      const { first, last } = binChunks(bin, width);
      if (last > BigInt(Number.MAX_SAFE_INTEGER)) fail(field, `chunk ${last} is beyond any content`, 'out_of_range');
      return { first: Number(first), last: Number(last) };
    }
    case 'byteRanges64':
      return fail(field, 'addresses bytes; only chunk ranges and bins are spoken here', 'unsupported_addressing');
  }
}
