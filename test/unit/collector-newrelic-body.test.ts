import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputError, PayloadTooLargeError } from '../../lib/errors.js';
import { decodeBody } from '../../lib/http/decode-body.js';
import { bodyText, capture } from '../harness/newrelic-captures.js';

const LIMIT = 16 * 1024 * 1024;

describe('body decoding (identity, gzip, deflate)', () => {
  it('decodes the captured >64 KiB payloads compressed as the agent does', async () => {
    for (const [prefix, encode] of [['20', zlib.gzipSync], ['21', zlib.deflateSync]] as const) {
      const c = capture(prefix);
      const text = bodyText(c);
      expect(Buffer.byteLength(text)).toBe(c.decodedBodyBytes);
      const wire = encode(Buffer.from(text));
      const out = await decodeBody(wire, c.headers['content-encoding']!, LIMIT);
      expect(out.toString('utf8')).toBe(text);
    }
  });

  it('passes identity bodies through and accepts raw deflate too', async () => {
    const b = Buffer.from('[1,2]');
    expect(await decodeBody(b, 'identity', LIMIT)).toBe(b);
    expect(await decodeBody(b, '', LIMIT)).toBe(b);
    expect((await decodeBody(zlib.deflateRawSync(b), 'deflate', LIMIT)).toString()).toBe('[1,2]');
  });

  it('stops a gzip or deflate bomb at the decoded limit: 413', async () => {
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    for (const [encoding, wire] of [['gzip', zlib.gzipSync(zeros)], ['deflate', zlib.deflateSync(zeros)]] as const) {
      expect(wire.length).toBeLessThan(100_000);
      const err = await decodeBody(wire, encoding, LIMIT).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PayloadTooLargeError);
      expect((err as Error).message).toBe(`cannot decode body: it decodes to more than the limit of ${LIMIT} bytes`);
    }
    await expect(decodeBody(Buffer.alloc(2000), 'identity', 1000)).rejects.toThrow(PayloadTooLargeError);
  });

  it('refuses corrupt data and unknown encodings with 400', async () => {
    await expect(decodeBody(Buffer.from('not gzip'), 'gzip', LIMIT)).rejects.toThrow(InputError);
    await expect(decodeBody(zlib.gzipSync('[1]').subarray(0, 12), 'gzip', LIMIT)).rejects.toThrow(/cannot decode body: the gzip data is corrupt \(unexpected end of file\)/);
    await expect(decodeBody(Buffer.from('x'), 'br', LIMIT)).rejects.toThrow(/unsupported Content-Encoding "br"/);
  });
});
