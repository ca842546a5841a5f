import net from 'node:net';
import { okAnswers, preparedAnswer, textAnswer, type BulkAnswer, type Handler, type PreparedStatement, type TextRow } from './answers.js';
import { paramsOf, writeBulkExecute, type BulkRows } from './bulk-execute.js';
import { authSwitchResponse, handshakeResponse, readGreeting, type Greeting, type Login } from './handshake.js';
import { PacketWriter } from './packet-writer.js';
import { ConnectionError, isErr, PacketFramer, readErr } from './packet-reader.js';

export type { BulkAnswer, TextRow } from './answers.js';

/**
 * A connection of the shard writer's bulk client (issue #20): the few commands its trips send (text
 * queries, statement preparation, MariaDB's bulk execution), pipelined: every command issued in one
 * turn of the event loop leaves in one socket write, and the answers come back in order. Replaces
 * MariaDB's Node connector on this path, which encoded and checked every value through generic code and
 * wrote each command on its own (docs/benchmark.md, "A bulk client of our own").
 *
 * Waits are bounded by the caller (lib/db/bulk-pool.ts `bounded` destroys the connection, which fails
 * every command still waiting), the connection phase by `connectTimeoutMs`.
 */

export interface WireOptions extends Login {
  host?: string;
  port?: number;
  /** A Unix socket instead of host and port. */
  socketPath?: string;
  connectTimeoutMs: number;
}

/** The login errors' names (the writer acts on errno and `fatal`; the name is for the logs). */
const LOGIN_ERRORS: Record<number, string> = { 1040: 'ER_CON_COUNT_ERROR', 1044: 'ER_DBACCESS_DENIED_ERROR', 1045: 'ER_ACCESS_DENIED_ERROR', 1049: 'ER_BAD_DB_ERROR' };
const COM_QUIT = 0x01;
const COM_QUERY = 0x03;
const COM_STMT_PREPARE = 0x16;
const COM_STMT_CLOSE = 0x19;
/** Prepared statements kept a connection (least recently used closed first): the writer's tables of an hour. */
export const PREPARED_PER_CONNECTION = 256;
/**
 * The statement id that names the statement this connection prepared last (MariaDB 10.2 and later, in
 * COM_STMT_EXECUTE and COM_STMT_BULK_EXECUTE), so that an execution can follow its preparation without
 * waiting for the statement's id.
 */
export const LAST_PREPARED = 0xffffffff;

export class WireConnection {
  readonly greeting: Greeting;
  /** Set by a pool: what `release` does with a live connection (by default it is closed). */
  onRelease: ((c: WireConnection) => void) | undefined;
  /** Set by a pool: called once when the connection ends, however it ends. */
  onDeath: ((c: WireConnection) => void) | undefined;
  #socket: net.Socket;
  #framer = new PacketFramer();
  #handlers: Handler[] = [];
  #out = new PacketWriter();
  #flushQueued = false;
  #writes = 0;
  #dead: Error | undefined;
  #statements = new Map<string, PreparedStatement>();

  private constructor(socket: net.Socket, greeting: Greeting) {
    this.#socket = socket;
    this.greeting = greeting;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#framer.push(chunk, (p) => this.#onPacket(p));
      } catch (err) {
        this.destroy(err instanceof ConnectionError ? err : new ConnectionError(`the bulk client failed reading an answer: ${(err as Error).message}`));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.destroy(new ConnectionError(`the connection to the server failed: ${err.message}`, err.code ?? 'PROTOCOL_CONNECTION_LOST')));
    socket.on('close', () => this.destroy(new ConnectionError('the server closed the connection')));
  }

  /** Connects and authenticates, within `connectTimeoutMs`. */
  static connect(o: WireOptions): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const socket = o.socketPath ? net.connect({ path: o.socketPath }) : net.connect({ host: o.host ?? '127.0.0.1', port: o.port ?? 3306 });
      socket.setNoDelay(true);
      const framer = new PacketFramer();
      let greeting: Greeting | undefined;
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new ConnectionError(`cannot connect to the server within ${o.connectTimeoutMs} ms`, 'ETIMEDOUT')), o.connectTimeoutMs);
      const onPacket = (p: Buffer): void => {
        if (!greeting) {
          greeting = readGreeting(p);
          socket.write(handshakeResponse(greeting, o));
        } else if (isErr(p)) {
          const e = readErr(p);
          fail(Object.assign(new ConnectionError(`the server refused the login: ${e.message}`, LOGIN_ERRORS[e.errno] ?? 'ER_LOGIN_REFUSED'), { errno: e.errno }));
        } else if (p[0] === 0xfe) {
          socket.write(authSwitchResponse(p, o.password, 3));
        } else if (p[0] === 0x00) {
          settled = true;
          clearTimeout(timer);
          // Only our own listeners: the socket's internal ones (its end of stream) stay.
          socket.off('data', onData).off('error', onError).off('close', onClose);
          resolve(new WireConnection(socket, greeting));
        } else fail(new ConnectionError('cannot authenticate: the server asked for more than mysql_native_password gives', 'ER_NOT_SUPPORTED_AUTH_MODE'));
      };
      const onData = (chunk: Buffer): void => {
        try {
          framer.push(chunk, onPacket);
        } catch (err) {
          fail(err as Error);
        }
      };
      const onError = (err: NodeJS.ErrnoException): void => fail(new ConnectionError(`cannot connect to the server: ${err.message}`, err.code ?? 'ECONNREFUSED'));
      const onClose = (): void => fail(new ConnectionError('the server closed the connection while logging in'));
      socket.on('data', onData).on('error', onError).on('close', onClose);
    });
  }

  /** The server's id of this connection (CONNECTION_ID()). */
  get threadId(): number {
    return this.greeting.connectionId;
  }

  /** Socket writes so far: each carries every command issued in one turn of the event loop. */
  get writes(): number {
    return this.#writes;
  }

  get alive(): boolean {
    return this.#dead === undefined;
  }

  /** Runs a text query (several statements allowed); resolves with the rows of its last result set. */
  query(sql: string): Promise<TextRow[]> {
    return new Promise((resolve, reject) => {
      if (this.#dead) return reject(this.#dead);
      this.#out.begin(0).u8(COM_QUERY).text(sql).end();
      this.#send(textAnswer(resolve, reject));
    });
  }

  /**
   * Prepares the statements not yet prepared on this connection, in one round trip. A trip prepares
   * its statements before it pipelines them, so that their commands leave in the order it issues them.
   */
  async prepare(sqls: readonly string[]): Promise<void> {
    const missing = [...new Set(sqls)].filter((s) => !this.#statements.has(s));
    if (missing.length === 0) return;
    await Promise.all(missing.map((sql) => this.#prepareOne(sql)));
    this.#evict(new Set(sqls));
  }

  /**
   * Executes the prepared statement `sql` over `rows` (prepared first when it is not yet), resolving
   * with the rows it changed, summed; with the first error when any of its commands failed.
   */
  async batch(sql: string, rows: BulkRows): Promise<BulkAnswer> {
    let st = this.#used(sql);
    if (!st) {
      await this.prepare([sql]);
      st = this.#statements.get(sql)!;
    }
    return this.#execute(st.id, st.params, rows);
  }

  /**
   * As batch, but a statement not yet prepared on this connection is prepared in the same write as its
   * execution, which names it as the statement prepared last (LAST_PREPARED): no round trip between
   * them, and the commands leave in the order they are issued. Only for commands inside a transaction
   * that is rolled back when any of them fails: when the server refuses the preparation before it
   * registers the statement (max_prepared_stmt_count reached, out of memory), it keeps its previous
   * last statement and the execution runs that one (the preparation's error settles this call; the
   * rollback then discards whatever the execution changed).
   */
  batchInTransaction(sql: string, rows: BulkRows): Promise<BulkAnswer> {
    const st = this.#used(sql);
    if (st) return this.#execute(st.id, st.params, rows);
    const prepared = this.#prepareOne(sql);
    const executed = this.#execute(LAST_PREPARED, paramsOf(rows), rows);
    // The preparation's error, when it failed, is the one to report (not the execution's that follows).
    return prepared.then(
      () => {
        this.#evict(new Set([sql]));
        return executed;
      },
      (err: unknown) => {
        executed.catch(() => undefined);
        throw err;
      },
    );
  }

  /** The statement `sql` prepared on this connection, marked the most recently used; undefined when it is not. */
  #used(sql: string): PreparedStatement | undefined {
    const st = this.#statements.get(sql);
    if (st) {
      this.#statements.delete(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  /** Sends the bulk execution of statement `id`; a value it cannot send rejects (before anything is written). */
  #execute(id: number, params: number, rows: BulkRows): Promise<BulkAnswer> {
    return new Promise((resolve, reject) => {
      if (this.#dead) return reject(this.#dead);
      const commands = writeBulkExecute(this.#out, id, params, rows);
      this.#send(okAnswers(commands, resolve, reject));
    });
  }

  /** Hands the connection back to its pool (or closes it). */
  async release(): Promise<void> {
    if (this.onRelease && this.alive) this.onRelease(this);
    else await this.close();
  }

  /** Ends the connection politely (COM_QUIT). */
  async close(): Promise<void> {
    if (this.#dead) return;
    this.#out.begin(0).u8(COM_QUIT).end();
    this.#flush();
    this.#end(new ConnectionError('the connection was closed'));
    // The QUIT leaves before the socket ends (so the server logs no aborted connection); the server
    // closes its side on reading it, and the socket goes within a second whatever it does.
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  /** Ends the connection at once; every command still waiting fails with `err`. */
  destroy(err: Error = new ConnectionError('the connection was destroyed')): void {
    if (this.#dead) return;
    this.#socket.destroy();
    this.#end(err);
  }

  #end(err: Error): void {
    if (this.#dead) return;
    this.#dead = err;
    this.onDeath?.(this);
    const waiting = this.#handlers;
    this.#handlers = [];
    for (const h of waiting) h.fail(err);
  }

  #prepareOne(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#dead) return reject(this.#dead);
      this.#out.begin(0).u8(COM_STMT_PREPARE).text(sql).end();
      const prepared = (st: PreparedStatement): void => {
        // The same text prepared twice before either answered: the first one stays, the second goes.
        if (this.#statements.has(sql)) this.#closeStatement(st.id);
        else this.#statements.set(sql, st);
        resolve();
      };
      this.#send(preparedAnswer(prepared, reject));
    });
  }

  /** Closes the least recently used statements beyond the bound, never one of `keep`. */
  #evict(keep: Set<string>): void {
    for (const [sql, st] of this.#statements) {
      if (this.#statements.size <= PREPARED_PER_CONNECTION) break;
      if (keep.has(sql)) continue;
      this.#statements.delete(sql);
      this.#closeStatement(st.id);
    }
  }

  /** COM_STMT_CLOSE (the server does not answer it). */
  #closeStatement(id: number): void {
    this.#out.begin(0).u8(COM_STMT_CLOSE).u32(id).end();
    this.#queueFlush();
  }

  #send(h: Handler): void {
    this.#handlers.push(h);
    this.#queueFlush();
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#out.length === 0 || this.#dead) return;
    this.#writes++;
    this.#socket.write(this.#out.take());
  }

  #onPacket(p: Buffer): void {
    const h = this.#handlers[0];
    if (!h) throw new ConnectionError('the server answered a command that was not sent');
    if (h.onPacket(p)) this.#handlers.shift();
  }
}
