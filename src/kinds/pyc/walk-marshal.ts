/**
 * A validating walk over one marshalled object (CPython Python/marshal.c, r_object), in one pass
 * and without building the objects. It reports every str object to a visitor, so a rewriter can
 * splice new strings in and copy every other byte as it is.
 *
 * It follows CPython's reader wherever a rewrite depends on it, and is stricter elsewhere:
 * - The reference table: an object whose type byte carries FLAG_REF (0x80) takes the next slot.
 *   CPython reserves the slot of a container (tuple, list, dict, set, frozenset, code, slice)
 *   before reading its items and that of an atom after reading it; both orders number the slots
 *   by where the type byte sits, which is what this walk does. Singletons (None, True, ...),
 *   TYPE_NULL and TYPE_REF ignore the flag, as in CPython. Since every object keeps its type
 *   byte's flag through a rewrite, every TYPE_REF index stays valid.
 * - A TYPE_REF to an object still being read is refused. CPython refuses it for code objects,
 *   frozensets and slices (their slot holds None until they are built); for a tuple it would
 *   build a cycle, which no compiler writes.
 * - Sizes are checked against the bytes left before anything is reserved, so a forged size
 *   cannot make us (or a later reader) allocate gigabytes.
 * - Nesting is capped at CPython's MAX_MARSHAL_STACK_DEPTH (2000 on POSIX, 3.6-3.14), with an
 *   explicit stack, so a hostile file cannot overflow ours.
 * - What CPython would reject we reject too: bad UTF-8 in TYPE_UNICODE, long digits out of range
 *   or not normalised, text floats that do not parse, NULL where an object is needed,
 *   unhashable dict keys and set items, and code object fields of the wrong type (which the
 *   code constructor refuses; for a non-str name 3.6-3.8 even abort the interpreter).
 */

import { RewriteError } from '../../core/errors.js';
import { isMarshalUtf8 } from './utf8.js';

export const TYPE_NULL = 0x30; // '0'
export const TYPE_NONE = 0x4e; // 'N'
export const TYPE_FALSE = 0x46; // 'F'
export const TYPE_TRUE = 0x54; // 'T'
export const TYPE_STOPITER = 0x53; // 'S'
export const TYPE_ELLIPSIS = 0x2e; // '.'
export const TYPE_INT = 0x69; // 'i'
export const TYPE_INT64 = 0x49; // 'I', no longer written, still read
export const TYPE_FLOAT = 0x66; // 'f', text form
export const TYPE_BINARY_FLOAT = 0x67; // 'g'
export const TYPE_COMPLEX = 0x78; // 'x', text form
export const TYPE_BINARY_COMPLEX = 0x79; // 'y'
export const TYPE_LONG = 0x6c; // 'l'
export const TYPE_STRING = 0x73; // 's', bytes
export const TYPE_INTERNED = 0x74; // 't', interned str, UTF-8
export const TYPE_REF = 0x72; // 'r'
export const TYPE_TUPLE = 0x28; // '('
export const TYPE_LIST = 0x5b; // '['
export const TYPE_DICT = 0x7b; // '{'
export const TYPE_CODE = 0x63; // 'c'
export const TYPE_UNICODE = 0x75; // 'u', str, UTF-8
export const TYPE_SET = 0x3c; // '<'
export const TYPE_FROZENSET = 0x3e; // '>'
export const TYPE_ASCII = 0x61; // 'a'
export const TYPE_ASCII_INTERNED = 0x41; // 'A'
export const TYPE_SMALL_TUPLE = 0x29; // ')'
export const TYPE_SHORT_ASCII = 0x7a; // 'z'
export const TYPE_SHORT_ASCII_INTERNED = 0x5a; // 'Z'
export const TYPE_SLICE = 0x3a; // ':', marshal version 5 (3.14)
export const FLAG_REF = 0x80;

/** CPython's MAX_MARSHAL_STACK_DEPTH outside Windows, WASI and iOS. */
export const MAX_MARSHAL_DEPTH = 2000;

/** What the walk needs to know about a version's marshal format. */
export interface MarshalFormat {
  /**
   * Code object fields in order: `i` a raw int32, else an object that must be `b` bytes, `s` a
   * str, `t` a tuple, `n` a tuple of str, or `o` anything.
   */
  readonly codeFields: string;
  /** Whether TYPE_SLICE exists. */
  readonly slices: boolean;
}

/**
 * Called for each str object, in stream order: the offset of its type byte, the type byte as
 * written (FLAG_REF included), and the span of its character data. Returning true stops the walk
 * right after this str: walkMarshal then returns WALK_STOPPED, and nothing after it is checked.
 */
export type StringVisitor = (
  at: number,
  code: number,
  dataStart: number,
  dataEnd: number,
) => boolean;

/** What walkMarshal returns when the visitor stopped it. */
export const WALK_STOPPED = -1;

// What reading a value gives: R_NULL for TYPE_NULL, PENDING when a container was opened (step
// its frame), else a type tag ORed with HASHABLE or UNHASHABLE. The same value goes into the
// object's ref slot, so a TYPE_REF gives what the object itself gave.
const R_NULL = 0;
const HASHABLE = 1;
const UNHASHABLE = 2;
const PENDING = 3;
const STOPPED = -1; // the visitor asked to stop: unwind without closing any frame
const TAG_OTHER = 0 << 2;
const TAG_STR = 1 << 2;
const TAG_BYTES = 2 << 2;
const TAG_TUPLE = 3 << 2;
const TAG_STR_TUPLE = 4 << 2; // a tuple whose items are all str (empty included)
const R_ATOM = TAG_OTHER | HASHABLE;
const R_STR = TAG_STR | HASHABLE;
const R_BYTES = TAG_BYTES | HASHABLE;

// Frame flags.
const FL_HASHABLE = 1;
const FL_ALL_STR = 2;

// Frame kinds.
const F_TUPLE = 0;
const F_LIST = 1;
const F_SET = 2;
const F_FROZENSET = 3;
const F_DICT = 4;
const F_CODE = 5;
const F_SLICE = 6;

// A ref slot that is reserved but not filled yet (R_NULL never fills one).
const SLOT_PENDING = 0;

/** Whether a value's tag is what a code object field (MarshalFormat.codeFields) demands. */
function fits(want: number, r: number): boolean {
  const tag = r & ~3;
  switch (want) {
    case 0x62: // b
      return tag === TAG_BYTES;
    case 0x73: // s
      return tag === TAG_STR;
    case 0x74: // t
      return tag === TAG_TUPLE || tag === TAG_STR_TUPLE;
    case 0x6e: // n
      return tag === TAG_STR_TUPLE;
    default:
      return true;
  }
}

// What PyOS_string_to_double accepts, or a strict subset of it (no whitespace, no hex, no
// underscores). Only marshal version 0/1 writes text floats; no pyc holds them.
const FLOAT_TEXT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

function corrupt(what: string, at: number): RewriteError {
  return new RewriteError('corrupt', `corrupt pyc: ${what} at offset ${at}`);
}

const NO_BYTES = new Uint8Array(0);
const NO_VISIT: StringVisitor = () => false;

// Past this many slots a grown ref table is dropped after the walk rather than kept for the next.
const KEEP_REFS = 1 << 16;

class Walk {
  private buf: Uint8Array = NO_BYTES;
  private pos = 0;
  private end = 0;
  private format: MarshalFormat = { codeFields: '', slices: false };
  private visit: StringVisitor = NO_VISIT;
  // Ref table: per slot, SLOT_PENDING or the value its object gave.
  private refs = new Uint8Array(256);
  private nrefs = 0;
  // Frame stack, as parallel arrays: kind, item count or field index, ref slot, flags so far.
  private kind = new Uint8Array(32);
  private left = new Int32Array(32);
  private slot = new Int32Array(32);
  private flags = new Uint8Array(32);
  private sp = 0;

  /** Walk the object at `buf[start]`; return the offset just past it, or WALK_STOPPED. */
  walk(buf: Uint8Array, start: number, format: MarshalFormat, visit: StringVisitor): number {
    this.buf = buf;
    this.pos = start;
    this.end = buf.length;
    this.format = format;
    this.visit = visit;
    this.nrefs = 0;
    this.sp = 0;
    return this.run();
  }

  /** Let go of the input and the visitor (and of a ref table a huge stream grew). */
  release(): void {
    this.buf = NO_BYTES;
    this.visit = NO_VISIT;
    if (this.refs.length > KEEP_REFS) this.refs = new Uint8Array(256);
  }

  private run(): number {
    let r = this.readValue();
    for (;;) {
      if (r === PENDING) {
        r = this.step();
        continue;
      }
      if (r === STOPPED) return WALK_STOPPED;
      if (this.sp === 0) {
        if (r === R_NULL) throw corrupt('NULL object', this.pos - 1);
        return this.pos;
      }
      r = this.deliver(r);
    }
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw corrupt(`truncated: ${n} bytes needed`, this.pos);
  }

  private int32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
  }

  /** A size field: an int32 that must be >= 0 (CPython: "size out of range"). */
  private size(at: number): number {
    const n = this.int32();
    if (n < 0) throw corrupt(`negative size ${n}`, at);
    return n;
  }

  private addRef(state: number): void {
    if (this.nrefs === this.refs.length) {
      const grown = new Uint8Array(this.refs.length * 2);
      grown.set(this.refs);
      this.refs = grown;
    }
    this.refs[this.nrefs++] = state;
  }

  /** An atom was read: fill its ref slot if flagged. */
  private atom(flag: number, state: number): number {
    if (flag !== 0) this.addRef(state);
    return state;
  }

  private push(kind: number, left: number, flag: number): number {
    if (this.sp === this.kind.length) {
      const n = this.kind.length * 2;
      const kinds = new Uint8Array(n);
      const lefts = new Int32Array(n);
      const slots = new Int32Array(n);
      const flags = new Uint8Array(n);
      kinds.set(this.kind);
      lefts.set(this.left);
      slots.set(this.slot);
      flags.set(this.flags);
      this.kind = kinds;
      this.left = lefts;
      this.slot = slots;
      this.flags = flags;
    }
    const sp = this.sp++;
    this.kind[sp] = kind;
    this.left[sp] = left;
    this.flags[sp] = FL_HASHABLE | FL_ALL_STR;
    if (flag !== 0) {
      this.slot[sp] = this.nrefs;
      this.addRef(SLOT_PENDING);
    } else {
      this.slot[sp] = -1;
    }
    return PENDING;
  }

  /** Close the top frame and give its value. */
  private pop(): number {
    const sp = --this.sp;
    const k = this.kind[sp]!;
    const f = this.flags[sp]!;
    const hash =
      k === F_LIST || k === F_SET || k === F_DICT || (f & FL_HASHABLE) === 0
        ? UNHASHABLE
        : HASHABLE;
    const tag = k !== F_TUPLE ? TAG_OTHER : (f & FL_ALL_STR) !== 0 ? TAG_STR_TUPLE : TAG_TUPLE;
    const slot = this.slot[sp]!;
    if (slot >= 0) this.refs[slot] = tag | hash;
    return tag | hash;
  }

  /** Read the next item of the top frame, or close it. */
  private step(): number {
    const sp = this.sp - 1;
    const k = this.kind[sp]!;
    if (k === F_DICT) return this.readValue();
    if (k === F_CODE) {
      const fields = this.format.codeFields;
      let i = this.left[sp]!;
      while (i < fields.length && fields.charCodeAt(i) === 0x69 /* i */) {
        this.need(4);
        this.pos += 4;
        i++;
      }
      if (i === fields.length) return this.pop();
      this.left[sp] = i + 1;
      return this.readValue();
    }
    if (this.left[sp] === 0) return this.pop();
    this.left[sp]!--;
    return this.readValue();
  }

  /** Hand a finished value to the top frame. */
  private deliver(r: number): number {
    const sp = this.sp - 1;
    const k = this.kind[sp]!;
    if (k === F_DICT) {
      // A dict ends at a NULL where a key or (as CPython reads it) a value is due.
      if (r === R_NULL) return this.pop();
      if (this.left[sp] === 0) {
        if ((r & 3) === UNHASHABLE) throw corrupt('unhashable dict key', this.pos);
        this.left[sp] = 1;
      } else {
        this.left[sp] = 0;
      }
      return PENDING;
    }
    if (r === R_NULL) throw corrupt('NULL object inside a container', this.pos - 1);
    if ((r & 3) === UNHASHABLE) {
      if (k === F_SET || k === F_FROZENSET) throw corrupt('unhashable set item', this.pos);
      this.flags[sp]! &= ~FL_HASHABLE;
    }
    if ((r & ~3) !== TAG_STR) this.flags[sp]! &= ~FL_ALL_STR;
    if (k === F_CODE && !fits(this.format.codeFields.charCodeAt(this.left[sp]! - 1), r)) {
      throw corrupt(`code object field ${this.left[sp]! - 1} of the wrong type`, this.pos);
    }
    return PENDING;
  }

  /** Read one value: an atom whole, or a container's header (then PENDING). */
  private readValue(): number {
    const at = this.pos;
    if (at >= this.end) throw corrupt('truncated: object expected', at);
    if (this.sp + 1 > MAX_MARSHAL_DEPTH) throw corrupt('objects nested too deep', at);
    const buf = this.buf;
    const code = buf[at]!;
    this.pos = at + 1;
    const flag = code & FLAG_REF;
    switch (code & ~FLAG_REF) {
      case TYPE_NULL:
        return R_NULL;
      case TYPE_NONE:
      case TYPE_FALSE:
      case TYPE_TRUE:
      case TYPE_STOPITER:
      case TYPE_ELLIPSIS:
        return R_ATOM;
      case TYPE_INT:
        this.need(4);
        this.pos += 4;
        return this.atom(flag, R_ATOM);
      case TYPE_INT64:
      case TYPE_BINARY_FLOAT:
        this.need(8);
        this.pos += 8;
        return this.atom(flag, R_ATOM);
      case TYPE_BINARY_COMPLEX:
        this.need(16);
        this.pos += 16;
        return this.atom(flag, R_ATOM);
      case TYPE_FLOAT:
        this.floatText();
        return this.atom(flag, R_ATOM);
      case TYPE_COMPLEX:
        this.floatText();
        this.floatText();
        return this.atom(flag, R_ATOM);
      case TYPE_LONG:
        this.long(at);
        return this.atom(flag, R_ATOM);
      case TYPE_STRING: {
        const n = this.size(at);
        this.need(n);
        this.pos += n;
        return this.atom(flag, R_BYTES);
      }
      case TYPE_ASCII:
      case TYPE_ASCII_INTERNED: {
        // Read as Latin-1 (PyUnicode_FromKindAndData, 1-byte kind): no byte is invalid.
        const n = this.size(at);
        this.need(n);
        this.pos += n;
        if (this.visit(at, code, at + 5, this.pos)) return STOPPED;
        return this.atom(flag, R_STR);
      }
      case TYPE_SHORT_ASCII:
      case TYPE_SHORT_ASCII_INTERNED: {
        this.need(1);
        const n = buf[this.pos]!;
        this.pos++;
        this.need(n);
        this.pos += n;
        if (this.visit(at, code, at + 2, this.pos)) return STOPPED;
        return this.atom(flag, R_STR);
      }
      case TYPE_UNICODE:
      case TYPE_INTERNED: {
        const n = this.size(at);
        this.need(n);
        const start = this.pos;
        this.pos += n;
        if (!isMarshalUtf8(buf, start, this.pos)) throw corrupt('invalid UTF-8 in str', at);
        if (this.visit(at, code, start, this.pos)) return STOPPED;
        return this.atom(flag, R_STR);
      }
      case TYPE_SMALL_TUPLE: {
        this.need(1);
        const n = buf[this.pos]!;
        this.pos++;
        this.need(n);
        return this.push(F_TUPLE, n, flag);
      }
      case TYPE_TUPLE:
      case TYPE_LIST:
      case TYPE_SET:
      case TYPE_FROZENSET: {
        const n = this.size(at);
        // Each item takes at least one byte: a larger count cannot be real.
        if (n > this.end - this.pos) throw corrupt(`item count ${n} beyond the data`, at);
        const type = code & ~FLAG_REF;
        const kind =
          type === TYPE_TUPLE
            ? F_TUPLE
            : type === TYPE_LIST
              ? F_LIST
              : type === TYPE_SET
                ? F_SET
                : F_FROZENSET;
        return this.push(kind, n, flag);
      }
      case TYPE_DICT:
        return this.push(F_DICT, 0, flag);
      case TYPE_CODE:
        return this.push(F_CODE, 0, flag);
      case TYPE_SLICE:
        if (!this.format.slices) throw corrupt('unknown marshal type 0x3a', at);
        return this.push(F_SLICE, 3, flag);
      case TYPE_REF: {
        const n = this.int32();
        if (n < 0 || n >= this.nrefs) throw corrupt(`invalid reference ${n}`, at);
        const state = this.refs[n]!;
        if (state === SLOT_PENDING) throw corrupt(`reference ${n} to an unfinished object`, at);
        return state;
      }
      default:
        throw corrupt(`unknown marshal type 0x${code.toString(16)}`, at);
    }
  }

  /** TYPE_FLOAT / TYPE_COMPLEX part: a length byte and that much text. */
  private floatText(): void {
    const at = this.pos;
    this.need(1);
    const n = this.buf[at]!;
    this.pos++;
    this.need(n);
    const text = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, n).toString('latin1');
    this.pos += n;
    if (!FLOAT_TEXT.test(text)) throw corrupt('float text that does not parse', at);
  }

  /** TYPE_LONG: a signed count of 15-bit digits (r_PyLong). */
  private long(at: number): void {
    const n = this.int32();
    if (n === 0) return;
    // CPython: |n| <= SIZE32_MAX, so -2^31 is out of range.
    if (n === -0x80000000) throw corrupt('long size out of range', at);
    const count = Math.abs(n);
    this.need(count * 2);
    const buf = this.buf;
    const start = this.pos;
    this.pos += count * 2;
    for (let p = start + 1; p < this.pos; p += 2) {
      // A digit is a signed 16-bit value that must lie in 0..0x7fff.
      if (buf[p]! & 0x80) throw corrupt('long digit out of range', at);
    }
    if (buf[this.pos - 2] === 0 && buf[this.pos - 1] === 0) {
      throw corrupt('unnormalized long', at);
    }
  }
}

// Rewriting a venv walks thousands of pycs one after the other: the arrays of the last walk are
// reused rather than allocated again for each. A walk started from inside a visitor finds none
// idle and gets its own.
let idle: Walk | undefined;

/**
 * Walk the marshalled object at `buf[start]`, report each str to `visit`, and return the offset
 * just past it (WALK_STOPPED when the visitor stopped the walk). Throws RewriteError('corrupt')
 * for anything CPython could not read back in the part walked.
 */
export function walkMarshal(
  buf: Uint8Array,
  start: number,
  format: MarshalFormat,
  visit: StringVisitor,
): number {
  const walk = idle ?? new Walk();
  idle = undefined;
  try {
    return walk.walk(buf, start, format, visit);
  } finally {
    walk.release();
    idle = walk;
  }
}
