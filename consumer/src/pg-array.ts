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
