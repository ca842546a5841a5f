import { CONTROL_CHARACTER, hasLoneSurrogate } from '../../lib/shard/metric-name.js';

// A control character or any surrogate: most names hold neither, and then one scan settles both checks.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/;

/** Longest metric name or scope we store, in UTF-8 bytes (the dictionary's column width). */
export const MAX_NAME_BYTES = 255;

/**
 * Why `text` cannot be a metric name (or scope), or undefined when it can. `allowEmpty` is for
 * scopes, where '' means unscoped.
 */
export function nameProblem(text: unknown, allowEmpty: boolean): string | undefined {
  if (typeof text !== 'string') return `must be a string, got ${text === null ? 'null' : typeof text}`;
  if (text.length === 0) return allowEmpty ? undefined : 'is empty';
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short names need no byte count (the usual case).
  if (text.length * 3 > MAX_NAME_BYTES) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_NAME_BYTES) return `is ${bytes} bytes long, more than ${MAX_NAME_BYTES}`;
  }
  if (!SUSPECT.test(text)) return undefined;
  if (CONTROL_CHARACTER.test(text)) return 'contains a control character';
  if (hasLoneSurrogate(text)) return 'contains an unpaired surrogate';
  return undefined;
}

/** A name shortened for an error message. */
export function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}
