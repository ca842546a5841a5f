import type { Directory } from '../lib/directory/directory.js';
import { InputError, NotFoundError } from '../lib/errors.js';
import { AccountMover, type MoveHandle } from '../lib/ops/account-mover.js';
import type { MoveProgress } from '../lib/ops/move-context.js';
import type { Move } from '../lib/ops/move-journal.js';
import { addShard, removeShard } from '../lib/ops/shard-admin.js';
import { rotateKey } from '../lib/directory/key-epoch.js';
import type { ShardStatsCollector } from '../lib/ops/shard-stats.js';
import type { ShardRegistry } from '../lib/shard/shard-registry.js';
import type { AdminMetrics } from './admin-metrics.js';
import { type Log } from '../lib/log/log.js';
import type { Config } from '../lib/config/config.js';
import { ReplicaDirectory } from '../lib/replica/replica-directory.js';
import { withReplicaStatuses } from '../lib/replica/replica-status.js';

export interface Answer {
  status: number;
  body: unknown;
}

export interface AdminApiDeps {
  directory: Directory;
  shards: ShardRegistry;
  stats: ShardStatsCollector;
  metrics: AdminMetrics;
  log: Log;
  now: () => number;
  /** For the read replicas' status (credentials, lag threshold); without it shards carry no readReplicas. */
  config?: Config;
}

/** A JSON request body as an object; InputError naming the problem otherwise. */
export function jsonObject(body: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new InputError(`cannot ${what}: the body is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(`cannot ${what}: the body must be a JSON object`);
  return v as Record<string, unknown>;
}

export function positiveInt(v: unknown, what: string): number {
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0 || n > 4_294_967_295) throw new InputError(`cannot read ${what}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The operations of the admin API, independent of HTTP: shard listing (health and load), adding,
 * closing and opening shards, creating and listing accounts, and account moves. Moves run in this
 * process in the background; their progress is kept in memory and their state in the directory.
 */
export class AdminApi {
  readonly mover: AccountMover;
  readonly #running = new Map<number, { ctl: AbortController; progress?: MoveProgress; done: Promise<void> }>();

  constructor(private readonly d: AdminApiDeps) {
    this.mover = new AccountMover({
      directory: d.directory,
      // A move (table copies, comparisons, DROP TABLE) is a job: the job statement bound.
      shards: d.shards.jobs,
      now: d.now,
      log: d.log,
      onProgress: (p) => {
        const r = this.#running.get(p.accountId);
        if (r) r.progress = p;
      },
    });
  }

  async shards(): Promise<Answer> {
    const shards = await this.d.stats.collect({ sampleMs: 1000 });
    this.d.metrics.observeShards(shards);
    return { status: 200, body: { shards: this.d.config ? await withReplicaStatuses(this.d.directory, this.d.config, shards) : shards } };
  }

  /** Read replicas of one shard with their heartbeat lag and state (docs/api.md). */
  async replicas(shardId: number): Promise<Answer> {
    await this.d.directory.getShard(shardId);
    const [one] = this.d.config ? await withReplicaStatuses(this.d.directory, this.d.config, [{ id: shardId }]) : [{ id: shardId, readReplicas: await new ReplicaDirectory(this.d.directory).list(shardId) }];
    return { status: 200, body: { shard: shardId, replicas: one!.readReplicas ?? [] } };
  }

  async addReplica(shardId: number, body: Record<string, unknown>): Promise<Answer> {
    if (typeof body.address !== 'string') throw new InputError('cannot add replica: give "address" as "host:port"');
    const r = await new ReplicaDirectory(this.d.directory).add(shardId, body.address);
    return { status: r.existed ? 200 : 201, body: r };
  }

  async removeReplica(shardId: number, body: Record<string, unknown>): Promise<Answer> {
    if (typeof body.address !== 'string') throw new InputError('cannot remove replica: give "address" as "host:port"');
    return { status: 200, body: await new ReplicaDirectory(this.d.directory).remove(shardId, body.address) };
  }

  async addShard(body: Record<string, unknown>): Promise<Answer> {
    if (typeof body.address !== 'string') throw new InputError('cannot add shard: give "address" as "host:port"');
    if (body.state !== undefined && body.state !== 'open' && body.state !== 'closed') throw new InputError('cannot add shard: "state" must be "open" or "closed"');
    const shard = await addShard(this.d.directory, this.d.shards, body.address, (body.state as 'open' | 'closed' | undefined) ?? 'open');
    return { status: shard.existed ? 200 : 201, body: shard };
  }

  async removeShard(id: number): Promise<Answer> {
    return { status: 200, body: await removeShard(this.d.directory, this.d.shards, id) };
  }

  async setShardState(id: number, state: 'open' | 'closed'): Promise<Answer> {
    return { status: 200, body: await this.d.directory.setShardState(id, state) };
  }

  async accounts(): Promise<Answer> {
    return { status: 200, body: { accounts: await this.d.directory.listAccounts() } };
  }

  /** A new key of that kind for the account, shown only in this answer; the old one is refused within 2 s. */
  async rotateKey(accountId: number, body: Record<string, unknown>): Promise<Answer> {
    const kind = body.kind;
    if (kind !== 'license' && kind !== 'read' && kind !== 'browser') throw new InputError('cannot rotate key: "kind" must be "license", "read" or "browser"');
    return { status: 200, body: { accountId, kind, key: await rotateKey(this.d.directory, accountId, kind) } };
  }

  async createAccount(body: Record<string, unknown>): Promise<Answer> {
    if (typeof body.name !== 'string') throw new InputError('cannot create account: give "name"');
    if (body.plan !== undefined && typeof body.plan !== 'string') throw new InputError('cannot create account: "plan" must be a string');
    const made = await this.d.directory.createAccount({ name: body.name, ...(typeof body.plan === 'string' ? { plan: body.plan } : {}) });
    return { status: 201, body: made };
  }

  async moves(accountId: number | undefined): Promise<Answer> {
    const moves = await this.mover.status(accountId === undefined ? {} : { accountId });
    return { status: 200, body: { moves: moves.map((m) => ({ ...m, progress: this.#running.get(m.accountId)?.progress ?? null })) } };
  }

  async move(id: number): Promise<Answer> {
    const m = await this.mover.journal.find(id);
    if (!m) throw new NotFoundError(`cannot find move ${id}: no such move`);
    const [status] = (await this.mover.status({ accountId: m.accountId, limit: 1000 })).filter((x) => x.id === id);
    const here = this.#running.get(m.accountId);
    return { status: 200, body: { ...status, runningHere: here !== undefined, progress: m.active ? (here?.progress ?? null) : null } };
  }

  /** Starts a move in the background: 202 with the journaled move; follow it with GET /admin/moves/{id}. */
  async startMove(accountId: number, body: Record<string, unknown>): Promise<Answer> {
    const to = positiveInt(body.to, 'target shard "to"');
    if (body.force !== undefined && typeof body.force !== 'boolean') throw new InputError('cannot move account: "force" must be true or false');
    return this.#background(accountId, (signal) => this.mover.begin(accountId, to, signal, { force: body.force === true }));
  }

  async resume(accountId: number): Promise<Answer> {
    return this.#background(accountId, (signal) => this.mover.beginResume(accountId, signal));
  }

  async rollback(accountId: number): Promise<Answer> {
    const m = await this.mover.rollback(accountId);
    this.d.metrics.moves.inc({ outcome: 'rolled_back' });
    return { status: 200, body: m };
  }

  async #background(accountId: number, begin: (signal: AbortSignal) => Promise<MoveHandle>): Promise<Answer> {
    const ctl = new AbortController();
    const h = await begin(ctl.signal);
    const entry: { ctl: AbortController; progress?: MoveProgress; done: Promise<void> } = { ctl, done: Promise.resolve() };
    this.#running.set(accountId, entry);
    this.d.metrics.movesRunning.set(this.#running.size);
    entry.done = h.done.then(
      (m: Move) => {
        this.d.metrics.moves.inc({ outcome: 'done' });
        if (m.fencedMs !== null) this.d.metrics.fenced.observe(m.fencedMs / 1000);
      },
      (err: Error) => {
        this.d.metrics.moves.inc({ outcome: ctl.signal.aborted ? 'interrupted' : 'failed' });
        this.d.log.info(`move ${h.move.id} of account ${accountId} stopped: ${err.message}`);
      },
    ).finally(() => {
      this.#running.delete(accountId);
      this.d.metrics.movesRunning.set(this.#running.size);
    });
    return { status: 202, body: h.move };
  }

  /** Stops running moves at their next safe point (they stay resumable) and waits for them. */
  async stop(): Promise<void> {
    const running = [...this.#running.values()];
    for (const r of running) r.ctl.abort(new Error('the admin service is stopping'));
    await Promise.all(running.map((r) => r.done));
  }
}
