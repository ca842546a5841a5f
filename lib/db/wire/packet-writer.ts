/**
 * Outgoing MySQL/MariaDB protocol packets, written into one growing buffer so that every command of a
 * trip leaves with one socket write (lib/db/wire/wire-connection.ts). A packet is a 3-byte length, a
 * sequence number (0 for a command's first packet) and the payload; the payload of one packet stays
 * below 16 MiB (callers split their commands below MAX_PAYLOAD: lib/db/wire/bulk-execute.ts).
 */

/** The largest payload of one packet: a longer one would continue in further packets, which we never send. */
export const MAX_PAYLOAD = 0xffffff - 1;

export class PacketWriter {
  #buf: Buffer;
  #view: DataView;
  #pos = 0;
  #start = -1;

  constructor(initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
  }

  /** Bytes written so far (whole packets once `end` was called). */
  get length(): number {
    return this.#pos;
  }

  /** Bytes of the open packet's payload so far. */
  get payloadLength(): number {
    return this.#start < 0 ? 0 : this.#pos - this.#start - 4;
  }

  /** Opens a packet with sequence number `seq`. */
  begin(seq = 0): this {
    if (this.#start >= 0) throw new Error('cannot begin a packet: the previous one was not ended');
    this.#ensure(4);
    this.#start = this.#pos;
    this.#buf[this.#pos + 3] = seq & 0xff;
    this.#pos += 4;
    return this;
  }

  /** Closes the open packet, writing its length. */
  end(): this {
    const n = this.payloadLength;
    if (this.#start < 0) throw new Error('cannot end a packet: none is open');
    if (n > MAX_PAYLOAD) throw new Error(`cannot send a packet of ${n} bytes: the limit of one packet is ${MAX_PAYLOAD}`);
    this.#buf.writeUIntLE(n, this.#start, 3);
    this.#start = -1;
    return this;
  }

  /** Drops the open packet (a caller that found it too large starts it again elsewhere). */
  cancel(): void {
    if (this.#start >= 0) this.#pos = this.#start;
    this.#start = -1;
  }

  /** The written packets, and an empty writer (the buffer is handed over, never reused). */
  take(): Buffer {
    if (this.#start >= 0) throw new Error('cannot take the packets: one is still open');
    const out = this.#buf.subarray(0, this.#pos);
    this.#buf = Buffer.allocUnsafe(Math.max(1024, Math.min(this.#buf.length, 1 << 20)));
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
    this.#pos = 0;
    return out;
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    this.#buf.writeUInt16LE(v, this.#pos);
    this.#pos += 2;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    this.#buf.writeUInt32LE(v >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  /** A safe integer as a signed 64-bit little-endian integer. */
  i64(v: number): this {
    this.#ensure(8);
    this.#i64At(v, this.#pos);
    this.#pos += 8;
    return this;
  }

  /**
   * A bulk row of numbers (or nulls): each value a null flag (1) or a value flag (0) and 8 bytes, a
   * double where `doubles[i]`, else a safe integer as a 64-bit integer (lib/db/wire/bulk-execute.ts).
   */
  numberRow(row: readonly unknown[], doubles: readonly boolean[]): this {
    const n = doubles.length;
    this.#ensure(9 * n);
    let pos = this.#pos;
    for (let i = 0; i < n; i++) {
      const v = row[i];
      if (v === null || v === undefined) {
        this.#buf[pos++] = 1;
        continue;
      }
      pos = this.#numberAt(pos, v as number, doubles[i]!);
    }
    this.#pos = pos;
    return this;
  }

  /**
   * One non-null value of a bulk row of numbers: the value flag (0) and 8 bytes, a double when
   * `double`, else a safe integer as a 64-bit integer (the caller checked it is one).
   */
  numberValue(v: number, double: boolean): this {
    this.#ensure(9);
    this.#pos = this.#numberAt(this.#pos, v, double);
    return this;
  }

  /** A value flag (0) and `v` at `pos` (room ensured by the caller); the position after them. */
  #numberAt(pos: number, v: number, double: boolean): number {
    this.#buf[pos] = 0;
    if (double) this.#view.setFloat64(pos + 1, v, true);
    else this.#i64At(v, pos + 1);
    return pos + 9;
  }

  #i64At(v: number, pos: number): void {
    const hi = Math.floor(v / 4294967296);
    this.#view.setUint32(pos, v - hi * 4294967296, true);
    this.#view.setInt32(pos + 4, hi, true);
  }

  bigint64(v: bigint): this {
    this.#ensure(8);
    this.#buf.writeBigInt64LE(v, this.#pos);
    this.#pos += 8;
    return this;
  }

  f64(v: number): this {
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, v, true);
    this.#pos += 8;
    return this;
  }

  /** A length-encoded integer. */
  lenenc(n: number): this {
    if (n < 251) return this.u8(n);
    if (n < 0x10000) return this.u8(0xfc).u16(n);
    if (n < 0x1000000) {
      this.u8(0xfd);
      this.#ensure(3);
      this.#buf.writeUIntLE(n, this.#pos, 3);
      this.#pos += 3;
      return this;
    }
    return this.u8(0xfe).i64(n);
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** UTF-8 text without a terminator (the rest of a packet). */
  text(s: string): this {
    this.#ensure(Buffer.byteLength(s));
    this.#pos += this.#buf.write(s, this.#pos);
    return this;
  }

  /** UTF-8 text ended by a zero byte. */
  nulText(s: string): this {
    return this.text(s).u8(0);
  }

  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  lenencText(s: string): this {
    const n = Buffer.byteLength(s);
    this.lenenc(n).#ensure(n);
    this.#pos += this.#buf.write(s, this.#pos);
    return this;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
    this.#view = new DataView(next.buffer, next.byteOffset, next.length);
  }
}
