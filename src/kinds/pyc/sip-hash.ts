/**
 * SipHash with 64-bit lanes held as two unsigned 32-bit halves, so that hashing a large source
 * costs no BigInt allocation per round.
 *
 * Only the plain SipHash-c-d of Aumasson and Bernstein: CPython's Python/pyhash.c computes the
 * same thing (its "modified" comment marks the v0^v1^v2^v3 fold, which is the standard output).
 */

// The state: v0..v3, each as [hi, lo]; index 2*i is hi, 2*i+1 is lo.
type State = Uint32Array;

/** v[a] += v[b] (mod 2^64). */
function add(s: State, a: number, b: number): void {
  const lo = (s[a + 1]! + s[b + 1]!) >>> 0;
  const carry = lo < s[a + 1]! ? 1 : 0;
  s[a] = (s[a]! + s[b]! + carry) >>> 0;
  s[a + 1] = lo;
}

/** v[a] = rotl(v[a], n) for 0 < n < 32. */
function rotl(s: State, a: number, n: number): void {
  const hi = s[a]!;
  const lo = s[a + 1]!;
  s[a] = ((hi << n) | (lo >>> (32 - n))) >>> 0;
  s[a + 1] = ((lo << n) | (hi >>> (32 - n))) >>> 0;
}

/** v[a] = rotl(v[a], 32): swap the halves. */
function swap(s: State, a: number): void {
  const hi = s[a]!;
  s[a] = s[a + 1]!;
  s[a + 1] = hi;
}

/** v[a] ^= v[b]. */
function xor(s: State, a: number, b: number): void {
  s[a] = (s[a]! ^ s[b]!) >>> 0;
  s[a + 1] = (s[a + 1]! ^ s[b + 1]!) >>> 0;
}

const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

/** One SipRound. */
function sipRound(s: State): void {
  add(s, V0, V1);
  rotl(s, V1, 13);
  xor(s, V1, V0);
  swap(s, V0);
  add(s, V2, V3);
  rotl(s, V3, 16);
  xor(s, V3, V2);
  add(s, V0, V3);
  rotl(s, V3, 21);
  xor(s, V3, V0);
  add(s, V2, V1);
  rotl(s, V1, 17);
  xor(s, V1, V2);
  swap(s, V2);
}

/** XOR a 64-bit word (hi, lo) into lane `a`. */
function xorWord(s: State, a: number, hi: number, lo: number): void {
  s[a] = (s[a]! ^ hi) >>> 0;
  s[a + 1] = (s[a + 1]! ^ lo) >>> 0;
}

/** Compress one message word. */
function absorb(s: State, hi: number, lo: number, cRounds: number): void {
  xorWord(s, V3, hi, lo);
  for (let r = 0; r < cRounds; r++) sipRound(s);
  xorWord(s, V0, hi, lo);
}

/**
 * SipHash-c-d of `data` under the 128-bit key (k0, k1), each given as [hi, lo] 32-bit halves.
 * Returns the 64-bit result as 8 little-endian bytes, which is how `_imp.source_hash` returns it.
 */
export function sipHash(
  cRounds: number,
  dRounds: number,
  k0: readonly [number, number],
  k1: readonly [number, number],
  data: Uint8Array,
): Buffer {
  // "somepseudorandomlygeneratedbytes", xored with the key.
  const s: State = new Uint32Array([
    (k0[0] ^ 0x736f6d65) >>> 0,
    (k0[1] ^ 0x70736575) >>> 0,
    (k1[0] ^ 0x646f7261) >>> 0,
    (k1[1] ^ 0x6e646f6d) >>> 0,
    (k0[0] ^ 0x6c796765) >>> 0,
    (k0[1] ^ 0x6e657261) >>> 0,
    (k1[0] ^ 0x74656462) >>> 0,
    (k1[1] ^ 0x79746573) >>> 0,
  ]);
  const len = data.length;
  const whole = len - (len % 8);
  for (let i = 0; i < whole; i += 8) {
    const lo = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
    const hi =
      (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24)) >>> 0;
    absorb(s, hi, lo, cRounds);
  }
  // The last word: the remaining bytes, little-endian, with the length (mod 256) in the top byte.
  let lo = 0;
  let hi = ((len & 0xff) << 24) >>> 0;
  for (let i = whole; i < len; i++) {
    const shift = (i - whole) * 8;
    if (shift < 32) lo = (lo | (data[i]! << shift)) >>> 0;
    else hi = (hi | (data[i]! << (shift - 32))) >>> 0;
  }
  absorb(s, hi, lo, cRounds);
  xorWord(s, V2, 0, 0xff);
  for (let r = 0; r < dRounds; r++) sipRound(s);
  const outHi = (s[0]! ^ s[2]! ^ s[4]! ^ s[6]!) >>> 0;
  const outLo = (s[1]! ^ s[3]! ^ s[5]! ^ s[7]!) >>> 0;
  const out = Buffer.alloc(8);
  out.writeUInt32LE(outLo, 0);
  out.writeUInt32LE(outHi, 4);
  return out;
}
