/**
 * Numbers written straight into a Buffer as ASCII text, for the writer's SQL and LOAD DATA text: no
 * per-number strings for integers, no concatenated text to flatten and copy (issue #20).
 */

/**
 * Writes `n` as String(n) would at `o` and returns the offset after it. Non-negative safe integers
 * (ids, periods, counts, whole values) are written digit by digit; other numbers through String(n): the
 * shortest text that reads back as the same double. With `approximate`, a text with a decimal point
 * and no exponent gets `e0` appended: in SQL, `0.25` is an exact DECIMAL literal the server parses as
 * a decimal and converts to a double again (through text); `0.25e0` is read as a double at once. Both
 * store the same double (the nearest to the text), the second for less server work.
 */
export function putNumber(buf: Buffer, o: number, n: number, approximate: boolean): number {
  if (Number.isSafeInteger(n) && n >= 0) {
    let end = o + 1;
    for (let p = 10; p <= n; p *= 10) end++;
    for (let i = end - 1, x = n; i >= o; i--) {
      const q = Math.floor(x / 10);
      buf[i] = 0x30 + (x - q * 10);
      x = q;
    }
    return end;
  }
  const s = String(n);
  let point = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) point = true;
    else if (c === 0x65) point = false; // an exponent already: a double literal
    buf[o + i] = c;
  }
  o += s.length;
  if (approximate && point) {
    buf[o++] = 0x65; // e
    buf[o++] = 0x30; // 0
  }
  return o;
}

/** Longest text putNumber writes: String(-1.2345678901234567e-308) is 24 characters, plus `e0`. */
export const MAX_NUMBER_BYTES = 26;
