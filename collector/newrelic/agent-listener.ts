import { AuthError, httpStatusOf, InputError, PayloadTooLargeError, publicMessageOf, retryAfterOf } from '../../lib/errors.js';
import { PastRetentionError } from '../../lib/shard/minute-retention.js';
import { holdResponse, isAborted, readBody, sendJson, type HttpRequest, type HttpResponse } from '../../lib/http/uws.js';
import type { CollectorSettings } from '../collector-config.js';
import type { CollectorMetrics } from '../collector-metrics.js';
import { heldForDecoded, type InflightBudget } from '../inflight-budget.js';
import { isAgentMethod } from './agent-methods.js';
import { parseAgentQuery, type AgentQuery } from './agent-query.js';
import { exceptionReply, NULL_REPLY, preconnectReply, redirectHost } from './agent-replies.js';
import { decodeBody } from '../../lib/http/decode-body.js';
import type { AgentHandshake } from './agent-handshake.js';
import type { HarvestWriter } from './harvest-writer.js';
import { payloadDigest } from './harvest-plan.js';
import { parseMetricData } from './metric-data.js';
import type { RunToken } from './run-token.js';
import { type Log } from '../../lib/log/log.js';
import { parseTransactionEvents, writeTransactionEvents } from './transaction-events.js';
import type { ShardRegistry } from '../../lib/shard/shard-registry.js';
import type { ShardWriter } from '../../lib/shard/shard-writer.js';

export interface AgentListenerDeps {
  settings: CollectorSettings;
  /** Port agents reach us on (for preconnect's redirect when no public address is configured). */
  port: () => number;
  token: RunToken;
  handshake: AgentHandshake;
  harvests: HarvestWriter;
  /** Where transaction events' distributions are written (absent: events are answered and dropped). */
  shards?: ShardRegistry;
  /** Writes the events' seen/sent counts (absent: only the distributions are written). */
  writer?: ShardWriter;
  metrics: CollectorMetrics;
  budget: InflightBudget;
  now: () => number;
  log: Log;
}

/** What the synchronous part of a request hands to the asynchronous part (uWS req dies at the first await). */
interface RequestHead {
  query: string;
  encoding: string;
  host: string;
  contentLength: number | undefined;
}

/**
 * POST /agent_listener/invoke_raw_method?method=…: the whole New Relic agent protocol 17 surface.
 * Every answer is JSON; the status code is what the agent acts on (see docs/api.md).
 */
export class AgentListener {
  #inProgress = 0;

  constructor(private readonly d: AgentListenerDeps) {}

  /** Requests being handled right now (stop() waits for them). */
  get inProgress(): number {
    return this.#inProgress;
  }

  handle = (res: HttpResponse, req: HttpRequest): void => {
    holdResponse(res);
    const len = req.getHeader('content-length');
    const head: RequestHead = {
      query: req.getQuery() ?? '',
      encoding: req.getHeader('content-encoding'),
      host: req.getHeader('host'),
      contentLength: /^[0-9]{1,12}$/.test(len) ? Number(len) : undefined,
    };
    this.#inProgress++;
    // Every database statement of the request is bounded by its pool (lib/db/connect.ts): a frozen shard gives a 503, not a hang.
    void this.#serve(res, head).finally(() => this.#inProgress--);
  };

  async #serve(res: HttpResponse, head: RequestHead): Promise<void> {
    let method = methodLabel(head.query);
    let status = 200;
    let reserved = 0;
    try {
      const query = parseAgentQuery(head.query);
      method = query.method;
      if (head.contentLength !== undefined && head.contentLength > this.d.settings.maxBodyBytes) {
        throw new PayloadTooLargeError(`cannot accept ${query.method} body: ${head.contentLength} bytes, more than ${this.d.settings.maxBodyBytes}`);
      }
      // Reserve what the body can cost before reading it: as sent, plus decoded later.
      const expected = Math.min(head.contentLength ?? this.d.settings.maxBodyBytes, this.d.settings.maxBodyBytes);
      this.d.budget.take(expected);
      reserved = expected;
      const raw = await readBody(res, { limit: this.d.settings.maxBodyBytes });
      const decoded = await decodeBody(raw, head.encoding, this.d.settings.maxDecodedBytes);
      // Then what it becomes: the decoded copy, the parsed JSON, the harvest and rows built from it.
      const held = heldForDecoded(decoded.length);
      this.d.budget.take(held, reserved);
      reserved += held;
      const body = parseJson(decoded, query.method);
      const reply = await this.#dispatch(query, head, body, decoded);
      if (!isAborted(res)) sendJson(res, 200, reply);
    } catch (err) {
      if (isAborted(res)) {
        // The agent went away (it keeps its data and merges it into the next harvest); nothing to answer.
        this.d.metrics.rejected.inc({ reason: 'aborted' });
        return;
      }
      status = httpStatusOf(err);
      if (status === 500) this.d.log.error(`${method} failed: ${(err as Error).stack ?? String(err)}`);
      const cause = (err as { cause?: unknown }).cause;
      if (status === 503 && cause instanceof Error) this.d.log.warn(`${method} answered 503 (${(err as Error).message}): ${cause.message}`);
      this.d.metrics.rejected.inc({ reason: reasonOf(err, status) });
      const headers: Record<string, string> = {};
      const retryAfter = retryAfterOf(err);
      if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
      if (!isAborted(res)) sendJson(res, status, exceptionReply(status, publicMessageOf(err)), headers);
    } finally {
      if (reserved > 0) this.d.budget.release(reserved);
      this.d.metrics.requests.inc({ method, status: isAborted(res) ? 'aborted' : String(status) });
    }
  }

  async #dispatch(q: AgentQuery, head: RequestHead, body: unknown, decoded: Buffer): Promise<unknown> {
    switch (q.method) {
      case 'preconnect':
        await this.d.handshake.account(q.licenseKey);
        return preconnectReply(redirectHost(this.d.settings.publicAddress, head.host, this.d.port(), this.d.settings.bindHost));
      case 'connect':
        return this.d.handshake.connect(q.licenseKey, body);
      default:
        break;
    }
    const claims = this.d.token.verify(q.runId!, q.licenseKey);
    // The key must still be the account's (a rotated one is refused within seconds, key-epoch.ts).
    const holder =
      this.d.handshake.cachedAccount(q.licenseKey) ??
      (await this.d.handshake.account(q.licenseKey).catch((err: unknown) => {
        throw err instanceof AuthError ? new AuthError('cannot accept run id: its license key was revoked (reconnect with the new key)') : err;
      }));
    if (holder.id !== claims.accountId) throw new AuthError('cannot accept run id: its license key now belongs to another account (reconnect)');
    switch (q.method) {
      case 'metric_data': {
        const s = this.d.settings;
        const harvest = parseMetricData(body, q.runId!, { now: this.d.now(), maxFutureSeconds: s.maxFutureSeconds, maxAgeSeconds: s.maxAgeSeconds });
        await this.d.harvests.write(claims, harvest, payloadDigest(decoded));
        return NULL_REPLY;
      }
      case 'shutdown':
        await this.d.harvests.endRun(claims);
        return NULL_REPLY;
      case 'agent_settings':
        return NULL_REPLY;
      case 'analytic_event_data': {
        // Transaction durations → distributions (percentiles, estimated: the agent samples events).
        const s = this.d.settings;
        const parsed = parseTransactionEvents(body, { now: this.d.now(), maxFutureSeconds: s.maxFutureSeconds, maxAgeSeconds: s.maxAgeSeconds });
        if (this.d.shards) await writeTransactionEvents(this.d.shards, this.d.writer, claims, parsed, payloadDigest(decoded));
        this.d.metrics.ignoredItems.inc({ method: q.method }, parsed.skipped);
        return NULL_REPLY;
      }
      default:
        // Events, traces, errors, spans, logs, profiles: answered so the agent carries on, counted, not stored.
        this.d.metrics.ignoredItems.inc({ method: q.method }, countItems(body));
        return NULL_REPLY;
    }
  }
}

function parseJson(decoded: Buffer, method: string): unknown {
  try {
    return JSON.parse(decoded.toString('utf8'));
  } catch (err) {
    throw new InputError(`cannot parse ${method} body: not JSON (${(err as Error).message.slice(0, 120)})`);
  }
}

/** The method label for self-metrics: a known method or 'unknown' (label values stay bounded). */
function methodLabel(query: string): string {
  const m = new URLSearchParams(query).get('method') ?? '';
  return isAgentMethod(m) ? m : 'unknown';
}

/**
 * Items of a data payload: the longest array among its elements (events, errors, traces), or for
 * log_event_data (`[{common, logs: […]}, …]`) the logs of every block.
 */
function countItems(body: unknown): number {
  if (!Array.isArray(body)) throw new InputError('cannot accept payload: body must be a JSON array');
  let n = 0;
  let logs = 0;
  for (const el of body) {
    if (Array.isArray(el)) n = Math.max(n, el.length);
    else if (el !== null && typeof el === 'object' && Array.isArray((el as { logs?: unknown }).logs)) logs += (el as { logs: unknown[] }).logs.length;
  }
  return Math.max(n, logs);
}

function reasonOf(err: unknown, status: number): string {
  if (err instanceof AuthError) return 'auth';
  if (err instanceof PastRetentionError) return 'past_retention';
  if (status === 413) return 'too_large';
  if (status === 503 || status === 429) return 'retryable';
  if (status === 400) return 'bad_input';
  if (status === 404) return 'not_found';
  return 'internal';
}
