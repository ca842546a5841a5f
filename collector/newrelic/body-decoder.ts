import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { InputError, PayloadTooLargeError } from '../../lib/errors.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);

/**
 * Decodes a request body by its Content-Encoding (identity, gzip or deflate; agents send
 * identity below 64 KiB). Decoding stops as soon as the output passes `maxDecodedBytes`, so a
 * compression bomb costs at most that much memory: it is refused with 413. Corrupt data is 400.
 * Runs on the libuv thread pool, not the event loop.
 */
export async function decodeBody(body: Buffer, contentEncoding: string, maxDecodedBytes: number): Promise<Buffer> {
  const encoding = contentEncoding.trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') {
    if (body.length > maxDecodedBytes) throw tooLarge(body.length, maxDecodedBytes);
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
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(undefined, maxDecodedBytes);
    throw new InputError(`cannot decode ${encoding} body: ${(err as Error).message}`);
  }
  throw new InputError(`cannot decode body: unsupported Content-Encoding ${JSON.stringify(encoding.slice(0, 32))} (identity, gzip or deflate)`);
}

function tooLarge(size: number | undefined, limit: number): PayloadTooLargeError {
  const what = size === undefined ? 'more than' : `${size} bytes, more than`;
  return new PayloadTooLargeError(`cannot decode body: it decodes to ${what} the limit of ${limit} bytes`);
}
