/**
 * Postgres array literals built in one pass, for the columns a flush sends with `unnest`:
 * pg's own serialization of a JavaScript array escapes each element through a regular
 * expression and a new string, a cost paid per domain and per event id of every flush.
 * Syntax: PostgreSQL documentation, "Array Value Input" (section 8.15.2).
 */

/**
 * `{1,2,3}` for finite numbers (integers below 2^53 print without an exponent) or for texts
 * that need no quoting (hex keys).
 * @throws RangeError for a number that is not finite (its text would not parse as a number)
 */
export function plainArray(values: readonly (number | string)[]): string {
  for (const v of values) {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new RangeError(`not a finite number: ${v}`);
    }
  }
  return `{${values.join(',')}}`;
}

const NEEDS_ESCAPE = /["\\]/;

/**
 * `{"a","b"}` for texts: every element quoted, so that commas, braces, spaces and the word
 * NULL stay text; `"` and `\` inside an element are escaped with a backslash. No element
 * may be null.
 */
export function textArray(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i > 0) out += ',';
    out += NEEDS_ESCAPE.test(v) ? `"${v.replace(/["\\]/g, '\\$&')}"` : `"${v}"`;
  }
  return `${out}}`;
}

/** Element type OIDs (PostgreSQL's pg_type catalog): uuid and int8 (bigint). */
const UUID_OID = 2950;
const INT8_OID = 20;
const HEADER_BYTES = 20;
const TWO_TO_32 = 2 ** 32;
const LATIN1 = /^[\0-\xff]{16}$/;

/**
 * The head of a one-dimensional array without nulls in Postgres's binary format, as
 * array_recv reads it (PostgreSQL source, src/backend/utils/adt/arrayfuncs.c): the number
 * of dimensions (1), a has-nulls flag (0), the element type's OID, then the dimension's
 * length and lower bound (1). Each element follows as its byte length (int32) and bytes, all
 * integers big-endian. pg sends a Buffer parameter in the binary format, so the statement's
 * cast (`$1::uuid[]`) names the type Postgres reads it as; the server skips parsing text.
 */
function arrayHead(elementOid: number, length: number, elementBytes: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + length * (4 + elementBytes));
  out.writeInt32BE(1, 0);
  out.writeInt32BE(0, 4);
  out.writeInt32BE(elementOid, 8);
  out.writeInt32BE(length, 12);
  out.writeInt32BE(1, 16);
  return out;
}

/**
 * A `uuid[]` parameter in the binary format (see arrayHead) from 16-byte values, each given
 * as a 16-character latin1 string (one character per byte, as `crypto.hash(..., 'binary')`
 * writes them): 20 bytes per element on the wire instead of 39 in text.
 * @throws RangeError for a value that is not 16 characters of at most U+00FF
 */
export function uuidArray(values: readonly string[]): Buffer {
  const out = arrayHead(UUID_OID, values.length, 16);
  let at = HEADER_BYTES;
  for (const v of values) {
    out.writeInt32BE(16, at);
    // latin1 writes only the low byte of each character, so check first.
    if (!LATIN1.test(v)) {
      throw new RangeError(`not 16 bytes as latin1: ${JSON.stringify(v)}`);
    }
    out.write(v, at + 4, 16, 'latin1');
    at += 20;
  }
  return out;
}

/**
 * A `bigint[]` parameter in the binary format (see arrayHead), each element as two
 * big-endian 32-bit halves: 12 bytes per element, no text for Postgres to parse.
 * @throws RangeError for a number that is not a safe integer (an int8 would not hold it
 * exactly as sent)
 */
export function int8Array(values: readonly number[]): Buffer {
  const out = arrayHead(INT8_OID, values.length, 8);
  let at = HEADER_BYTES;
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new RangeError(`not a safe integer: ${v}`);
    const high = Math.floor(v / TWO_TO_32);
    out.writeInt32BE(8, at);
    out.writeInt32BE(high, at + 4);
    out.writeUInt32BE(v - high * TWO_TO_32, at + 8);
    at += 12;
  }
  return out;
}
