import { badData } from './prom-error.js';

/**
 * Pure decoding of PromQL's literals: durations (`1h30m`, `90s`, `5m`), numbers (`1e3`, `0x10`,
 * `Inf`, `NaN`) and strings in the three quotings (Go escapes in "…" and '…', raw in `…`).
 */
const UNIT_SECONDS: Record<string, number> = { y: 365 * 86400, w: 7 * 86400, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };
const DURATION = /^(?:[0-9]+(?:y|w|d|h|ms|m|s))+$/;

/** Seconds of a duration literal, or of a plain number of seconds; undefined when it is neither. */
export function durationSeconds(text: string): number | undefined {
  const s = text.trim();
  if (DURATION.test(s)) {
    let total = 0;
    for (const m of s.matchAll(/([0-9]+)(y|w|d|h|ms|m|s)/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    return total;
  }
  const n = numberValue(s);
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

export function numberValue(text: string): number | undefined {
  const s = text.trim().replace(/_/g, '');
  if (/^[+-]?inf$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return Number.NaN;
  if (/^0x[0-9a-f]+$/i.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/i.test(s)) return Number(s);
  return durationSeconds(s);
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

export function stringValue(text: string): string {
  const quote = text[0];
  const body = text.slice(1, -1);
  if (quote === '`') return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i] ?? '';
    if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
    else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw badData(`invalid escape sequence \\${e}${hex} in string ${text}`);
      out += String.fromCodePoint(Number.parseInt(hex, 16));
      i += len;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw badData(`invalid escape sequence \\${oct} in string ${text}`);
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 2;
    } else throw badData(`unknown escape sequence \\${e} in string ${text}`);
  }
  return out;
}
