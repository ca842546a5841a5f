import { createHash } from 'node:crypto';
import { PacketWriter } from './packet-writer.js';
import { ConnectionError, PacketReader } from './packet-reader.js';

/**
 * The connection phase of the bulk client (lib/db/wire/wire-connection.ts): the server's greeting
 * (protocol 10), our answer announcing MariaDB's bulk operations, and `mysql_native_password`, the
 * authentication of MariaDB's accounts by default (with an empty password, as the embedded servers' root
 * has, the answer is empty). A server that asks for another method is refused with a message naming
 * it; the writer then sends its rows as text (lib/db/bulk-pool.ts).
 */

// Capability flags (the lower 32 bits; bit 0 is CLIENT_MYSQL, left unset so that MariaDB reads our
// extended capabilities).
const CLIENT_FOUND_ROWS = 1 << 1;
const CLIENT_LONG_FLAG = 1 << 2;
const CLIENT_CONNECT_WITH_DB = 1 << 3;
const CLIENT_PROTOCOL_41 = 1 << 9;
const CLIENT_TRANSACTIONS = 1 << 13;
const CLIENT_SECURE_CONNECTION = 1 << 15;
const CLIENT_MULTI_STATEMENTS = 1 << 16;
const CLIENT_MULTI_RESULTS = 1 << 17;
const CLIENT_PS_MULTI_RESULTS = 1 << 18;
const CLIENT_PLUGIN_AUTH = 1 << 19;
const CLIENT_MYSQL = 1;
/** MariaDB's extended capability (bit 34 overall): COM_STMT_BULK_EXECUTE. */
const MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1 << 2;
/** utf8mb4_bin, the collation the other pools use. */
const UTF8MB4_BIN = 46;
const NATIVE = 'mysql_native_password';

export interface Greeting {
  serverVersion: string;
  connectionId: number;
  /** The server speaks bulk execution (MariaDB 10.2.7 or later; never MySQL). */
  bulk: boolean;
  capabilities: number;
  seed: Buffer;
  plugin: string;
}

export function readGreeting(p: Buffer): Greeting {
  const r = new PacketReader(p);
  const protocol = r.u8();
  if (protocol === 0xff) throw new ConnectionError(`the server refused the connection: ${p.subarray(3).toString('utf8')}`, 'ECONNREFUSED');
  if (protocol !== 10) throw new ConnectionError(`cannot speak protocol version ${protocol} of the server (expected 10)`);
  const serverVersion = r.nulText();
  const connectionId = r.u32();
  const seed1 = r.bytes(8);
  r.skip(1);
  const capsLow = r.u16();
  r.skip(1 + 2); // character set, status
  const capsHigh = r.u16();
  const seedLength = r.u8();
  r.skip(6);
  const extended = r.u32();
  const capabilities = capsLow | (capsHigh << 16);
  const seed2 = r.bytes(Math.max(13, seedLength - 8) - 1);
  r.skip(1);
  const plugin = capabilities & CLIENT_PLUGIN_AUTH ? r.nulText() : NATIVE;
  const mariadb = (capabilities & CLIENT_MYSQL) === 0;
  return { serverVersion, connectionId, bulk: mariadb && (extended & MARIADB_CLIENT_STMT_BULK_OPERATIONS) !== 0, capabilities, seed: Buffer.concat([seed1, seed2]), plugin };
}

/** mysql_native_password's answer: SHA1(password) XOR SHA1(seed + SHA1(SHA1(password))); empty for no password. */
export function nativePassword(password: string, seed: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const sha1 = (b: Buffer | string): Buffer => createHash('sha1').update(b).digest();
  const stage1 = sha1(password);
  const mask = sha1(Buffer.concat([seed.subarray(0, 20), sha1(stage1)]));
  for (let i = 0; i < stage1.length; i++) stage1[i]! ^= mask[i]!;
  return stage1;
}

export interface Login {
  user: string;
  password: string;
  database?: string;
}

/** Our answer to the greeting (HandshakeResponse41 with MariaDB's extended capabilities). */
export function handshakeResponse(g: Greeting, login: Login): Buffer {
  let caps =
    CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH;
  if (login.database) caps |= CLIENT_CONNECT_WITH_DB;
  caps &= g.capabilities;
  const auth = g.plugin === NATIVE ? nativePassword(login.password, g.seed) : Buffer.alloc(0);
  const w = new PacketWriter(256).begin(1).u32(caps).u32(0x1000000).u8(UTF8MB4_BIN);
  for (let i = 0; i < 19; i++) w.u8(0);
  w.u32(MARIADB_CLIENT_STMT_BULK_OPERATIONS).nulText(login.user).u8(auth.length).bytes(auth);
  if (login.database) w.nulText(login.database);
  w.nulText(NATIVE);
  return w.end().take();
}

/**
 * The answer to an authentication switch request (0xfe, a plugin name and its seed), or a
 * ConnectionError for a method this client does not speak.
 */
export function authSwitchResponse(p: Buffer, password: string, seq: number): Buffer {
  const r = new PacketReader(p).skip(1);
  const plugin = r.nulText();
  if (plugin !== NATIVE) throw new ConnectionError(`cannot authenticate with ${plugin}: the bulk client speaks ${NATIVE} only`, 'ER_NOT_SUPPORTED_AUTH_MODE');
  let seed = r.rest();
  if (seed.length > 0 && seed[seed.length - 1] === 0) seed = seed.subarray(0, seed.length - 1);
  return new PacketWriter(64).begin(seq).bytes(nativePassword(password, seed)).end().take();
}
