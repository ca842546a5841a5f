import path from 'node:path';
import type { AccountIds } from './bench-fleet.js';
import { benchCalls, benchStats, seedOf, type BenchMetric } from './bench-metrics.js';
import type { PeerFigures } from './bench-report.js';
import { gib, type PoolState } from './pool-state.js';
import { CpuMeter } from './proc-stats.js';
import { startVictoriaMetrics } from './victoria-metrics.js';

/** Lines per POST /write: a few MB, like a busy Telegraf. */
const LINES_PER_POST = 20_000;

/**
 * One Influx line per agent row of the end-to-end hour (same accounts, agents, metrics, minutes and
 * values; the six statistics as six fields; tags: account, agent and metric ids). Pure.
 */
export function influxLines(ids: AccountIds, metrics: readonly BenchMetric[], period: number, minute: number): string[] {
  const out: string[] = [];
  const ns = `${period}000000000`;
  for (let g = 0; g < ids.agentIds.length; g++) {
    for (let m = 0; m < metrics.length; m++) {
      const s = benchStats(seedOf(ids.account.index, g, m, minute), metrics[m]!.apdex);
      out.push(
        `apm,account=${ids.account.id},agent=${ids.agentIds[g]},metric=${ids.metricIds[m]} ` +
          `call_count=${s.callCount},total_time=${s.totalTime},exclusive_time=${s.exclusiveTime},min_time=${s.minTime},max_time=${s.maxTime},sum_of_squares=${s.sumOfSquares} ${ns}`,
      );
    }
  }
  return out;
}

/**
 * The peer phase: VictoriaMetrics (Debian's package; own data directory, loopback, stopped by its PID)
 * is fed the agent rows of the end-to-end hour over its Influx line protocol endpoint, minute after
 * minute on `ceilingConnections` connections, and counted where they land: `sum(count_over_time(
 * apm_call_count[…]))` through its /api/v1/query, polled until every row is there. Its rate is rows
 * counted over the wall time from the first post to the count being complete. It stores the per-agent
 * series only; the pipeline also stores the application-wide rows the dashboard reads.
 */
export async function peerPhase(st: PoolState): Promise<void> {
  const { ctx } = st;
  if (!ctx.freePort) throw new Error('BUG: the peer phase needs a free port');
  const vm = await startVictoriaMetrics(path.join(ctx.dir, 'victoria-metrics'), await ctx.freePort(), ctx.log);
  try {
    const hour = ctx.hourStart + 3 * 3600; // an hour of its own, so its series never mix with an earlier run's
    const cpu = new CpuMeter(vm.pid);
    const sender = new CpuMeter(process.pid);
    const startedAt = Date.now();
    const deadline = Math.min(ctx.runDeadline, startedAt + ctx.o.phaseTimeoutSeconds * 1000);
    let minutes = 0;
    let sent = 0;
    let calls = 0;
    for (let k = 0; k < ctx.o.minutes && Date.now() < deadline; k++) {
      const lines: string[] = [];
      for (const ids of st.ids) {
        for (const l of influxLines(ids, st.metrics, hour + 60 * k, k)) lines.push(l);
        for (let g = 0; g < ids.agentIds.length; g++) for (let m = 0; m < st.metrics.length; m++) calls += benchCalls(seedOf(ids.account.index, g, m, k));
      }
      await postAll(vm.url, lines, ctx.o.ceilingConnections);
      sent += lines.length;
      minutes = k + 1;
    }
    const postedAt = Date.now();
    const at = hour + 60 * minutes - 1;
    const window = `${60 * minutes}s`;
    let counted = 0;
    let callsCounted = 0;
    for (const until = Date.now() + 120_000; Date.now() < until; ) {
      counted = await scalar(vm.url, `sum(count_over_time(apm_call_count[${window}]))`, at);
      if (counted >= sent) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const landedAt = Date.now();
    callsCounted = await scalar(vm.url, `sum(sum_over_time(apm_call_count[${window}]))`, at);
    const seconds = (landedAt - startedAt) / 1000;
    const peerCpu = cpu.stop();
    const senderCpu = sender.stop();
    const e2e = st.report.endToEnd;
    const fig: PeerFigures = {
      minutes,
      rowsSent: sent,
      rowsCounted: counted,
      callCountExpected: calls,
      callCountCounted: callsCounted,
      exact: counted === sent && callsCounted === calls,
      seconds,
      secondsToLand: (landedAt - postedAt) / 1000,
      rowsPerSecond: counted / Math.max(seconds, 1e-3),
      ...(peerCpu ? { peerCpu } : {}),
      ...(senderCpu ? { senderCpu } : {}),
      ...(e2e && e2e.rowsPerSecond > 0 && counted > 0 ? { ratio: e2e.rowsPerSecond / (counted / Math.max(seconds, 1e-3)) } : {}),
    };
    st.report.peer = fig;
    ctx.log(
      `pool ${gib(ctx.bufferPoolBytes)}: peer (VictoriaMetrics) ${Math.round(fig.rowsPerSecond).toLocaleString('en-US')} rows/s ` +
        `(${fig.exact ? 'exact' : 'MISMATCH'})${fig.ratio !== undefined ? `; end to end ÷ peer = ${fig.ratio.toFixed(2)}` : ''}`,
    );
  } finally {
    await vm.stop();
  }
}

/** POSTs the lines in chunks, `connections` at a time; any non-2xx is an error. */
async function postAll(url: string, lines: readonly string[], connections: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const from = next;
      if (from >= lines.length) return;
      next += LINES_PER_POST;
      const body = lines.slice(from, from + LINES_PER_POST).join('\n');
      const res = await fetch(`${url}/write`, { method: 'POST', body });
      if (!res.ok) throw new Error(`cannot write to victoria-metrics: ${res.status} ${(await res.text()).slice(0, 200)}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, connections) }, worker));
}

/** The value of an instant query that returns one series (0 when it returns none). */
async function scalar(url: string, query: string, at: number): Promise<number> {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query, time: String(at) })}`);
  const body = (await res.json()) as { status: string; data?: { result?: Array<{ value: [number, string] }> }; error?: string };
  if (body.status !== 'success') throw new Error(`cannot query victoria-metrics: ${body.error ?? res.status}`);
  const v = body.data?.result?.[0]?.value?.[1];
  return v === undefined ? 0 : Number(v);
}
