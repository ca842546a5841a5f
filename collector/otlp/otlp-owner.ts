import { createHash } from 'node:crypto';
import { AuthError, httpStatusOf, InputError, PayloadTooLargeError, publicMessageOf, RetryableError, retryAfterOf } from '../../lib/errors.js';
import type { PartialSuccess } from './otlp-codec.js';
import type { DecodedExport, OtlpResource, ResourceIdentity } from './otlp-model.js';

/**
 * OTLP cumulative series stay exact when the collector runs as several processes sharing one port:
 * the cumulative state (otlp-series-state.ts) of a sender lives in ONE process, its owner, chosen by a
 * hash of (account, service.name, instance) — the same key as the receiver's per-sender lock, and a
 * function of every series id of that sender. A process that receives an export it does not own
 * (wholly or in part) hands each owner its resources (after auth and decoding) and answers 2xx only
 * when every part is committed; a part that fails makes the whole answer fail (retryable: the
 * client resends, and the parts already committed are duplicates by their own dedupe keys).
 */
export interface OtlpOwners {
  /** This process's index, 0 ≤ index < count. */
  index: number;
  count: number;
  /** Stores `part` in process `owner`; resolves with what it rejected, rejects with its error (status kept). */
  forward(owner: number, part: OwnedPart): Promise<PartialSuccess | undefined>;
}

/** The part of an export one process owns, as handed over (structured clone: bigint times survive). */
export interface OwnedPart {
  accountId: number;
  decoded: DecodedExport;
  /** Dedupe digest of the part: the export's own when the export is not split. */
  digest: string;
}

/** FNV-1a (32 bits) of the sender key, modulo the process count: stable across processes and restarts. */
export function ownerOf(accountId: number, identity: ResourceIdentity, count: number): number {
  if (count <= 1) return 0;
  const key = `${accountId}\u0000${identity.serviceName}\u0000${identity.instance ?? ''}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}

/**
 * The export split by owner process. An export whose resources all have one owner stays whole (its
 * digest unchanged); otherwise each part's digest is derived from the export's and the indexes of its
 * resources, so a resent export splits into the same parts with the same dedupe keys. The decode
 * rejections and skipped points travel with the part of the first resource.
 */
export function splitByOwner(accountId: number, decoded: DecodedExport, digest: string, count: number): Map<number, OwnedPart> {
  const byOwner = new Map<number, number[]>();
  decoded.resources.forEach((r, i) => {
    const o = ownerOf(accountId, r.identity, count);
    const list = byOwner.get(o);
    if (list) list.push(i);
    else byOwner.set(o, [i]);
  });
  const out = new Map<number, OwnedPart>();
  if (byOwner.size <= 1) {
    out.set(byOwner.keys().next().value ?? 0, { accountId, decoded, digest });
    return out;
  }
  let first = true;
  for (const [owner, indexes] of byOwner) {
    const resources = indexes.map((i) => decoded.resources[i]!);
    out.set(owner, {
      accountId,
      decoded: {
        resources,
        acceptedPoints: pointsOf(resources),
        rejected: first ? decoded.rejected : [],
        skippedPoints: first ? decoded.skippedPoints : 0,
      },
      digest: createHash('sha256').update(`${digest}/${indexes.join(',')}`).digest('hex'),
    });
    first = false;
  }
  return out;
}

function pointsOf(resources: OtlpResource[]): number {
  return resources.reduce((n, r) => n + r.metrics.reduce((m, x) => m + x.points.length, 0), 0);
}

/**
 * Stores an export: wholly here when this process owns it (or runs alone), else part by part at the
 * owners. With several failures the answer is the retryable one, so the client resends.
 */
export async function storeByOwner(
  owners: OtlpOwners | undefined,
  part: OwnedPart,
  local: (part: OwnedPart) => Promise<PartialSuccess | undefined>,
): Promise<PartialSuccess | undefined> {
  if (!owners || owners.count <= 1) return local(part);
  const parts = splitByOwner(part.accountId, part.decoded, part.digest, owners.count);
  const settled = await Promise.allSettled([...parts].map(([owner, p]) => (owner === owners.index ? local(p) : owners.forward(owner, p))));
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
  if (failed.length > 0) throw failed.find((e) => e instanceof RetryableError) ?? failed[0];
  return mergePartials(settled.map((s) => (s as PromiseFulfilledResult<PartialSuccess | undefined>).value));
}

export function mergePartials(parts: Array<PartialSuccess | undefined>): PartialSuccess | undefined {
  const some = parts.filter((p): p is PartialSuccess => p !== undefined);
  if (some.length === 0) return undefined;
  return { rejectedDataPoints: some.reduce((n, p) => n + p.rejectedDataPoints, 0), errorMessage: some.map((p) => p.errorMessage).join('; ') };
}

/** An error as it crosses processes: status, public message, Retry-After. */
export interface WireError {
  status: number;
  message: string;
  retryAfter: number | undefined;
}

export function errorToWire(err: unknown): WireError {
  return { status: httpStatusOf(err), message: publicMessageOf(err), retryAfter: retryAfterOf(err) };
}

/** A 4xx other than the classes' own statuses, kept as the owner answered it. */
class ForwardedInputError extends InputError {
  override readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** The error again, as a class with the same status (lib/errors.ts): the receiver answers it as if local. */
export function errorFromWire(w: WireError): Error {
  if (w.status === 503 || w.status === 429) return new RetryableError(w.message, w.retryAfter ?? 5, w.status);
  if (w.status === 401 || w.status === 403) return new AuthError(w.message, w.status);
  if (w.status === 413) return new PayloadTooLargeError(w.message);
  if (w.status >= 400 && w.status < 500) return new ForwardedInputError(w.message, w.status);
  return new Error(`owner process failed: ${w.message}`);
}
