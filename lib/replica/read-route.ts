/**
 * Pure choice of where a time-series read goes, given each replica's measured lag (HyperDB's lag
 * detection, plus one step it cannot take: our rows are addressed by time, so a replica L seconds
 * behind answers exactly any window ending before now - L - margin). Rules, in order:
 *
 * - An account being moved: the primary only ('moving').
 * - No replica registered: the primary ('no_replica'); replicas registered but none measurable
 *   (unreachable, no heartbeat): the primary ('replicas_down').
 * - A replica with lag < maxLag: the whole window there, the least lagged one ('current').
 * - A replica old enough for the window (to <= now - lag - margin): the whole window there ('window_old').
 * - Otherwise every replica lags and the window needs fresh data: the least lagged replica reads
 *   [from, split) and the primary only the edge [split, to), split = now - lag - margin rounded down
 *   to the step ('edge'). The edge is at most maxEdge seconds: past it the replica also reads the part
 *   between split and the edge, and the answer is flagged stale from split ('edge_bounded'); the bound
 *   is rounded to whole buckets (edgeBound).
 *
 * Every split point is a multiple of `step` (the resolution's bucket), so hour and day rows are never
 * cut and each instant is read from exactly one server.
 */
export interface ReplicaLag {
  /** host:port of the replica. */
  address: string;
  /** Measured heartbeat lag, seconds; null when it cannot be used (unreachable, unmeasured). */
  lagSeconds: number | null;
}

export interface RouteInput {
  /** The window, aligned to step: [from, to). */
  from: number;
  to: number;
  step: number;
  /** Unix seconds. */
  now: number;
  replicas: readonly ReplicaLag[];
  maxLagSeconds: number;
  marginSeconds: number;
  maxEdgeSeconds: number;
  moving: boolean;
}

/**
 * Set by the router, not here: primary_busy (the process's edge reads to that primary were at their
 * bound), replica_error (the replica failed the read; read again from the primary).
 */
export type RouteReason = 'moving' | 'no_replica' | 'replicas_down' | 'current' | 'window_old' | 'edge' | 'edge_bounded' | 'primary_busy' | 'replica_error';

export interface RoutePart {
  target: 'primary' | 'replica';
  /** host:port, for replica parts. */
  replica?: string;
  from: number;
  to: number;
}

export interface Route {
  reason: RouteReason;
  /** Consecutive, non-empty, covering [from, to) (a single part for an empty window). */
  parts: RoutePart[];
  /** Lag of the replica used, seconds. */
  replicaLagSeconds?: number;
  /** Set when data from here on may be older than the primary's (edge bounded, or primary busy). */
  staleFrom?: number;
}

export function routeRead(input: RouteInput): Route {
  const { from, to } = input;
  const primary = (reason: RouteReason): Route => ({ reason, parts: [{ target: 'primary', from, to }] });
  if (input.moving) return primary('moving');
  if (input.replicas.length === 0) return primary('no_replica');
  const usable = input.replicas
    .filter((r): r is ReplicaLag & { lagSeconds: number } => r.lagSeconds !== null)
    .sort((a, b) => a.lagSeconds - b.lagSeconds);
  const best = usable[0];
  if (!best) return primary('replicas_down');
  const whole = (reason: RouteReason): Route => ({ reason, parts: [{ target: 'replica', replica: best.address, from, to }], replicaLagSeconds: best.lagSeconds });
  if (best.lagSeconds < input.maxLagSeconds) return whole('current');
  const fresh = input.now - best.lagSeconds - input.marginSeconds;
  if (to <= fresh) return whole('window_old');
  const step = input.step;
  const split = Math.min(to, Math.max(from, Math.floor(fresh / step) * step));
  const edgeStart = Math.max(split, to - edgeBound(input.maxEdgeSeconds, step));
  const parts: RoutePart[] = [];
  if (edgeStart > from) parts.push({ target: 'replica', replica: best.address, from, to: edgeStart });
  if (edgeStart < to) parts.push({ target: 'primary', from: edgeStart, to });
  const bounded = edgeStart > split;
  return {
    reason: bounded ? 'edge_bounded' : 'edge',
    parts,
    replicaLagSeconds: best.lagSeconds,
    ...(bounded ? { staleFrom: split } : {}),
  };
}

/**
 * The longest edge for a bucket size: maxEdge rounded up to whole buckets of at most an hour (an hourly
 * chart's newest hour costs what a minute chart's hour does), rounded down for day buckets (never a
 * whole day of minute rows on the primary).
 */
export function edgeBound(maxEdgeSeconds: number, step: number): number {
  return step <= 3600 ? Math.ceil(maxEdgeSeconds / step) * step : Math.floor(maxEdgeSeconds / step) * step;
}

/** Seconds of a route read from the primary. */
export function primarySeconds(route: Route): number {
  return route.parts.filter((p) => p.target === 'primary').reduce((s, p) => s + (p.to - p.from), 0);
}
