import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { InputError, PayloadTooLargeError } from '../errors.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

/** How a caller names its body in messages, and the error for an encoding we do not support. */
export interface DecodeBodyOptions {
  /** "body", "metrics export": messages read `cannot decode <what>: …`. */
  what: string;
  /** Default: InputError (400). OTLP answers 415. */
  unsupported?: (message: string) => Error;
}

/**
 * The one bounded body decoder of every ingest endpoint (New Relic agent listener, OTLP/HTTP).
 * Decodes a request body by its Content-Encoding (identity, gzip or deflate, zlib-wrapped or raw).
 * Decoding stops as soon as the output passes `maxDecodedBytes`, so a compression bomb costs at most
 * that much memory: it is refused with 413. Corrupt data is 400. Runs on the libuv thread pool, not
 * the event loop.
 */
export async function decodeBody(body: Buffer, contentEncoding: string, maxDecodedBytes: number, o: DecodeBodyOptions = { what: 'body' }): Promise<Buffer> {
  const encoding = contentEncoding.trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') {
    if (body.length > maxDecodedBytes) throw tooLarge(o.what, body.length, maxDecodedBytes);
    return body;
  }
  const opts = { maxOutputLength: maxDecodedBytes };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return await gunzip(body, opts);
    if (encoding === 'deflate') {
      try {
        return await inflate(body, opts);
      } catch (err) {
        // Some clients send raw deflate (no zlib header); the New Relic agents send zlib-wrapped.
        if ((err as { code?: string }).code !== 'Z_DATA_ERROR') throw err;
        return await inflateRaw(body, opts);
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge(o.what, undefined, maxDecodedBytes);
    throw new InputError(`cannot decode ${o.what}: the ${encoding} data is corrupt (${(err as Error).message})`);
  }
  const message = `cannot decode ${o.what}: unsupported Content-Encoding ${JSON.stringify(encoding.slice(0, 32))} (identity, gzip or deflate)`;
  throw o.unsupported ? o.unsupported(message) : new InputError(message);
}

function tooLarge(what: string, size: number | undefined, limit: number): PayloadTooLargeError {
  const amount = size === undefined ? 'more than' : `${size} bytes, more than`;
  return new PayloadTooLargeError(`cannot decode ${what}: it decodes to ${amount} the limit of ${limit} bytes`);
}
