/**
 * Incoming MySQL/MariaDB protocol packets: framing of the byte stream into payloads, and the readers of
 * the few answers the bulk client understands (OK, ERR, EOF, result rows as text).
 */

/**
 * Splits a byte stream into packet payloads. The answers this client reads are small (OK, ERR, a few
 * rows), so a payload that would continue in another packet (16 MiB or more) is refused: the bound of
 * what one connection buffers.
 */
export class PacketFramer {
  #pending: Buffer = Buffer.alloc(0);

  /** Feeds received bytes; calls `onPacket` for each whole payload. Throws ConnectionError on a payload too large. */
  push(chunk: Buffer, onPacket: (payload: Buffer) => void): void {
    const buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUIntLE(pos, 3);
      if (len === 0xffffff) throw new ConnectionError('cannot read an answer of 16 MiB or more from the server');
      if (buf.length - pos - 4 < len) break;
      const payload = buf.subarray(pos + 4, pos + 4 + len);
      pos += 4 + len;
      onPacket(payload);
    }
    this.#pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
  }
}

/** A cursor over one payload. */
export class PacketReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  get left(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    return this.buf[this.pos++]!;
  }
  u16(): number {
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  skip(n: number): this {
    this.pos += n;
    return this;
  }
  /** A length-encoded integer; null for the NULL marker (0xfb) of a text row. */
  lenenc(): number | null {
    const b = this.u8();
    if (b < 0xfb) return b;
    if (b === 0xfb) return null;
    if (b === 0xfc) return this.u16();
    if (b === 0xfd) {
      const v = this.buf.readUIntLE(this.pos, 3);
      this.pos += 3;
      return v;
    }
    const lo = this.u32();
    return this.u32() * 4294967296 + lo;
  }
  bytes(n: number): Buffer {
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  lenencText(): string | null {
    const n = this.lenenc();
    return n === null ? null : this.bytes(n).toString('utf8');
  }
  nulText(): string {
    const end = this.buf.indexOf(0, this.pos);
    const stop = end < 0 ? this.buf.length : end;
    const v = this.buf.toString('utf8', this.pos, stop);
    this.pos = stop + 1;
    return v;
  }
  rest(): Buffer {
    return this.bytes(this.left);
  }
}

export const SERVER_MORE_RESULTS_EXISTS = 0x0008;

/** An error answered by the server, with the fields the writer decides on (lib/shard/shard-writer-errors.ts). */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  readonly fatal = false;
  constructor(
    readonly errno: number,
    readonly sqlState: string,
    message: string,
  ) {
    super(`(${errno}, ${sqlState}) ${message}`);
  }
}

/** The connection is unusable (lost, timed out, protocol out of step): every waiting command fails with it. */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  readonly fatal = true;
  constructor(
    message: string,
    readonly code = 'PROTOCOL_CONNECTION_LOST',
  ) {
    super(message);
  }
}

export function isErr(p: Buffer): boolean {
  return p[0] === 0xff;
}

/** An EOF packet (not a text row starting with a 0xfe length byte, which is longer). */
export function isEof(p: Buffer): boolean {
  return p[0] === 0xfe && p.length < 9;
}

export function readErr(p: Buffer): ServerError {
  const r = new PacketReader(p).skip(1);
  const errno = r.u16();
  let state = 'HY000';
  if (r.left > 0 && r.buf[r.pos] === 0x23 /* # */) state = r.skip(1).bytes(5).toString('latin1');
  return new ServerError(errno, state, r.rest().toString('utf8'));
}

export interface OkPacket {
  affectedRows: number;
  insertId: number;
  status: number;
}

export function readOk(p: Buffer): OkPacket {
  const r = new PacketReader(p).skip(1);
  const affectedRows = r.lenenc() ?? 0;
  const insertId = r.lenenc() ?? 0;
  const status = r.left >= 2 ? r.u16() : 0;
  return { affectedRows, insertId, status };
}

/** The status flags of an EOF packet. */
export function eofStatus(p: Buffer): number {
  return p.length >= 5 ? p.readUInt16LE(3) : 0;
}
