import { replicaMarkdown } from './replica-bench.js';
import { COLLECTOR_RSS_LIMIT_BYTES, type BenchReport, type CpuFigure, type HourPhaseReport, type PoolRunReport } from './bench-report.js';
import { tenantsMarkdown } from './tenants-report.js';

/** The Markdown rendering of a bench report (pure). */

export function renderMarkdown(r: BenchReport): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`# Benchmark (${r.mode} mode), ${r.startedAt}`, '');
  lines.push(`Machine: ${m.cpus} × ${m.cpuModel}, ${gib(m.memoryBytes)} memory, Linux ${m.kernel}, Node ${m.node}, MariaDB ${m.mariadb}.`);
  const s = r.shape;
  lines.push(
    `Shape: ${s.accounts} accounts × ${s.agents} agents × ${s.metrics} metrics, ${s.minutes} simulated minutes per phase ` +
      `(${int(s.rowsPerMinute)} rows stored per minute, application rows included); ${s.concurrency} harvest posts in flight; ` +
      `load generator ${s.generator === 'child' ? 'in its own process' : 'inside the bench process (its CPU counts as the collector\'s)'}. ` +
      `Run took ${dur(r.seconds)}.`,
    '',
    `Load average (1/5/15 min) at the start ${loads(r.loadAverage.start)}, at the end ${loads(r.loadAverage.end)}: anything above ${m.cpus} means other processes shared the CPUs.`,
    '',
  );
  if (r.replicas) lines.push(...replicaMarkdown(r.replicas));
  lines.push('## Summary', '');
  lines.push('| buffer pool | ceiling rows/s | end-to-end rows/s | ratio | harvest posts/s | post p50 / p99 | collector CPU | collector peak RSS (each process) | shard CPU (e2e) | rollup input rows/s | beacons/s | bare 204/s | ratio |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const run of r.runs) {
    const c = run.ceiling;
    const e = run.endToEnd;
    const p = e?.posts;
    const b = run.beacons;
    lines.push(
      `| ${gib(run.bufferPoolBytes)} | ${c ? rate(c) : '—'} | ${e ? rate(e) : '—'} | ${run.ratio !== undefined ? pct(run.ratio) : '—'} | ` +
        `${p ? int(p.perSecond) : '—'} | ${p ? `${ms(p.latency.p50Ms)} / ${ms(p.latency.p99Ms)}` : '—'} | ${collectorCell(e, 'cpu')} | ` +
        `${collectorCell(e, 'rss')} | ${cores(e?.shardCpu)} | ${run.rollup ? int(run.rollup.rowsPerSecond) : '—'} | ` +
        `${b ? int(b.beacon.perSecond) : '—'} | ${b ? int(b.bare.perSecond) : '—'} | ${b ? pct(b.ratio) : '—'} |`,
    );
  }
  lines.push('', '"rows/s" = timeslice rows counted in the database (COUNT(*) of the hour\'s tables) over the wall time of the phase; "ratio" = end to end ÷ ceiling.', '');
  lines.push(...decadeTable(r.runs), '');
  for (const run of r.runs) lines.push(...runDetails(run), '');
  if (r.tenants) lines.push(...tenantsMarkdown(r.tenants), '');
  if (r.notes.length > 0) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

function decadeTable(runs: readonly PoolRunReport[]): string[] {
  const cols: Array<{ title: string; phase: HourPhaseReport }> = [];
  for (const run of runs) {
    if (run.ceiling) cols.push({ title: `ceiling ${gib(run.bufferPoolBytes)}`, phase: run.ceiling });
    if (run.endToEnd) cols.push({ title: `end to end ${gib(run.bufferPoolBytes)}`, phase: run.endToEnd });
  }
  if (cols.length === 0) return [];
  const out = ['## Rows/s per ten minutes of the hour', '', 'Each cell: rows/s (MB read / MB written by the shard server in those minutes).', ''];
  out.push(`| minutes | ${cols.map((c) => c.title).join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`);
  const stretches = Math.max(...cols.map((c) => c.phase.decades.length));
  for (let i = 0; i < stretches; i++) {
    const label = cols.map((c) => c.phase.decades[i]).find((d) => d !== undefined)!;
    const cells = cols.map((c) => {
      const d = c.phase.decades[i];
      return d ? `${int(d.rowsPerSecond)} (${mb(d.readBytes)} / ${mb(d.writtenBytes)})` : '—';
    });
    out.push(`| ${label.fromMinute}–${label.toMinute - 1} | ${cells.join(' | ')} |`);
  }
  return out;
}

function runDetails(run: PoolRunReport): string[] {
  const out = [`## Buffer pool ${gib(run.bufferPoolBytes)} (redo log ${gib(run.redoLogBytes)}, innodb_flush_log_at_trx_commit=${run.flushLogAtTrxCommit})`, ''];
  for (const [name, phase] of [['Ceiling (straight multi-row INSERTs)', run.ceiling], ['End to end (agents → collector → writer → MariaDB)', run.endToEnd]] as const) {
    if (!phase) continue;
    out.push(
      `- ${name}: ${phase.minutesDone}/${phase.minutesPlanned} minutes${phase.complete ? '' : ' (stopped at the phase timeout)'} in ${dur(phase.seconds)}, ` +
        `${int(phase.rowsCounted)} rows counted (expected ${int(phase.rowsExpected)}), call_count sum ${int(phase.callCountCounted)} ` +
        `(expected ${int(phase.callCountExpected)}): ${phase.exact ? 'exact' : 'MISMATCH'}; ${rate(phase)} rows/s; ` +
        `the hour's tables hold ${mib(phase.tableBytes)} (${phase.rowsCounted > 0 ? Math.round(phase.tableBytes / phase.rowsCounted) : 0} B/row) against a ${gib(run.bufferPoolBytes)} pool; ` +
        `shard CPU ${cores(phase.shardCpu)}, bench process CPU ${cores(phase.benchCpu)}${phase.generatorCpu ? `, generator CPU ${cores(phase.generatorCpu)}` : ''}.`,
    );
    out.push(`- CPU per stored row: ${cpuPerRow(phase)}.`);
    const p = phase.posts;
    if (p) {
      const statuses = Object.entries(p.statuses).map(([k, v]) => `${k}: ${int(v)}`).join(', ');
      out.push(
        `- Harvest posts: ${int(p.ok)} answered 200 (${int(p.perSecond)}/s, mean body ${int(p.meanBodyBytes)} B), latency p50 ${ms(p.latency.p50Ms)}, ` +
          `p90 ${ms(p.latency.p90Ms)}, p99 ${ms(p.latency.p99Ms)}, max ${ms(p.latency.maxMs)}; answers ${statuses}; ${p.retries} resent, ${p.failed} failed, ` +
          `${p.abandoned} abandoned; ${int(p.concurrency)} in flight; agents connected in ${dur(p.connectSeconds)}.`,
      );
      for (const f of p.failures) out.push(`  - ${f}`);
    }
  }
  if (run.ceiling && run.endToEnd) {
    const c = pipelineMicros(run.ceiling);
    const e = pipelineMicros(run.endToEnd);
    if (c !== undefined && e !== undefined && c > 0) out.push(`- CPU per stored row, end to end ÷ ceiling (shard + bench process): ${us(e)} ÷ ${us(c)} = ${(e / c).toFixed(2)}.`);
  }
  if (run.peer) {
    const v = run.peer;
    const per = (c: CpuFigure | undefined) => (c && v.rowsCounted > 0 ? us((c.cpuSeconds * 1e6) / v.rowsCounted) : '—');
    out.push(
      `- Peer (VictoriaMetrics, Debian's package, per-agent rows only, one Influx line of six fields each): ${v.minutes} minutes, ${int(v.rowsCounted)} rows counted ` +
        `through its /api/v1/query (sent ${int(v.rowsSent)}; call_count sum ${int(v.callCountCounted)}, expected ${int(v.callCountExpected)}): ${v.exact ? 'exact' : 'MISMATCH'}; ` +
        `${int(v.rowsPerSecond)} rows/s over ${dur(v.seconds)} (${dur(v.secondsToLand)} of it waiting for the last rows to be queryable); ` +
        `CPU per row: VictoriaMetrics ${per(v.peerCpu)}, the bench process building and posting lines ${per(v.senderCpu)}` +
        `${v.ratio !== undefined ? `; our end to end ÷ peer = ${v.ratio.toFixed(2)} (ours also store the application-wide rows)` : ''}.`,
    );
  }
  if (run.rollup) {
    const ro = run.rollup;
    out.push(`- Rollup: ${ro.hours} hour(s), ${ro.days} day(s); ${int(ro.rowsRead)} input rows → ${int(ro.rowsWritten)} rows in ${dur(ro.seconds)} = ${int(ro.rowsPerSecond)} input rows/s; shard CPU ${cores(ro.shardCpu)}.`);
  }
  if (run.beacons) {
    const b = run.beacons;
    out.push(
      `- Beacons (${b.seconds} s each, ${b.concurrency} in flight): beacon ${int(b.beacon.ok)} × 204 = ${int(b.beacon.perSecond)}/s, p50 ${ms(b.beacon.latency.p50Ms)}, ` +
        `p99 ${ms(b.beacon.latency.p99Ms)}, ${int(b.beacon.committed)} page views counted in the database, ${b.beacon.rejected} refused; ` +
        `bare uWebSockets.js endpoint ${int(b.bare.ok)} × 204 = ${int(b.bare.perSecond)}/s, p50 ${ms(b.bare.latency.p50Ms)}, p99 ${ms(b.bare.latency.p99Ms)}; ratio ${pct(b.ratio)}.`,
    );
    const d = b.distributions;
    if (d) {
      out.push(
        `- Percentiles (beacon distributions): ${int(d.rows)} distribution rows, ${int(d.bytes)} B, beside ${int(d.timesliceRows)} timeslice rows (${int(d.timesliceBytes)} B); ` +
          `${int(d.writes)} distribution writes (one per account batch, written concurrently), ${ms(d.writes > 0 ? (d.writeSeconds * 1000) / d.writes : 0)} each on average; ` +
          `the beacon spent ${dur(d.flushSeconds)} flushing (timeslices and distributions).`,
      );
    }
  }
  if (run.alerts) {
    const a = run.alerts;
    out.push(`- Alerts: ${int(a.policies)} policies on ${int(a.applications)} applications evaluated in ${dur(a.firstRun.seconds)} (first run, ${int(a.firstRun.policyMinutes)} policy minutes, ${int(a.firstRun.transitions)} incidents opened) and ${dur(a.steadyRun.seconds)} (steady run a minute later, ${int(a.steadyRun.policyMinutes)} policy minutes).`);
  }
  if (run.dashboard?.length) {
    out.push('', `Dashboard API, one request at a time (history: ${int(run.historyRows ?? 0)} hourly and daily rows seeded for the probed accounts):`, '');
    out.push('| endpoint | window | requests | p50 | p99 | max | mean answer |', '|---|---|---|---|---|---|---|');
    for (const d of run.dashboard) {
      out.push(`| ${d.endpoint} | ${d.window} | ${d.requests}${d.failed ? ` (${d.failed} failed)` : ''} | ${ms(d.latency.p50Ms)} | ${ms(d.latency.p99Ms)} | ${ms(d.latency.maxMs)} | ${int(d.meanBytes)} B |`);
    }
  }
  if (run.prometheus?.length) {
    out.push('', `Prometheus API (/prometheus/api/v1/query_range over 24 h), one request at a time, round-robin over the accounts (${int(run.prometheusMinuteRows ?? 0)} application-wide minute rows seeded):`, '');
    out.push('| query | step | accounts | requests | p50 | p99 | max | mean answer |', '|---|---|---|---|---|---|---|---|');
    for (const p of run.prometheus) {
      out.push(`| \`${p.query}\` | ${p.step} s | ${p.accounts} | ${p.requests}${p.failed ? ` (${p.failed} failed: ${p.failures.slice(0, 2).join('; ')})` : ''} | ${ms(p.latency.p50Ms)} | ${ms(p.latency.p99Ms)} | ${ms(p.latency.maxMs)} | ${int(p.meanBytes)} B |`);
    }
  }
  for (const e of run.errors) out.push(`- ERROR: ${e}`);
  for (const s of run.skipped) out.push(`- skipped: ${s}`);
  return out;
}

/**
 * The collector's CPU (cores) or peak RSS: the bench process's (the collector inside it, beside the
 * ceiling's, the dashboard's and the other phases' memory: named as the bench process's and not held to
 * the collector's bound), or with --collector-processes the sum of cores ("×N") and each process's peak
 * RSS (VmHWM) by index, "⚠" on any past COLLECTOR_RSS_LIMIT_BYTES.
 */
export function collectorCell(e: HourPhaseReport | undefined, what: 'cpu' | 'rss'): string {
  const procs = e?.collectorProcesses;
  if (!procs) return what === 'cpu' ? cores(e?.benchCpu) : e?.benchPeakRssBytes === undefined ? '—' : `${mib(e.benchPeakRssBytes)} (bench process)`;
  if (what === 'cpu') return `${procs.reduce((n, c) => n + (c.cpu?.cores ?? 0), 0).toFixed(2)} (×${procs.length})`;
  return procs.map((c) => peakRss(c.peakRssBytes)).join(' / ');
}

/** A collector process's peak RSS, flagged when it passed the limit of issue #20. */
export function peakRss(bytes: number | undefined): string {
  if (bytes === undefined) return '—';
  return bytes > COLLECTOR_RSS_LIMIT_BYTES ? `${mib(bytes)} ⚠ over ${mib(COLLECTOR_RSS_LIMIT_BYTES)}` : mib(bytes);
}

/** µs of CPU per row counted, per process: shard server, bench process (collector + writer, or the ceiling's statements), generator apart (the ceiling's: its rows' making). */
export function cpuPerRow(p: HourPhaseReport): string {
  const per = (c: CpuFigure | undefined) => (c && p.rowsCounted > 0 ? us((c.cpuSeconds * 1e6) / p.rowsCounted) : '—');
  const total = pipelineMicros(p);
  const procs = (p.collectorProcesses ?? []).map((c) => `collector process ${c.index} ${per(c.cpu)} (${c.cpu ? `${c.cpu.cores.toFixed(2)} cores` : '—'}, peak RSS ${peakRss(c.peakRssBytes)})`);
  return (
    `shard ${per(p.shardCpu)}, bench process ${per(p.benchCpu)}${procs.length > 0 ? `, ${procs.join(', ')}` : ''}, together ${total !== undefined ? us(total) : '—'}` +
    `${p.generatorCpu ? ` (load generator apart: ${per(p.generatorCpu)})` : ''}`
  );
}

/** Shard + bench process (+ collector processes) CPU µs per counted row (the pipeline's work; the generator is the agents'). */
export function pipelineMicros(p: HourPhaseReport): number | undefined {
  if (!p.shardCpu || !p.benchCpu || p.rowsCounted === 0) return undefined;
  const collectors = (p.collectorProcesses ?? []).reduce((n, c) => n + (c.cpu?.cpuSeconds ?? 0), 0);
  return ((p.shardCpu.cpuSeconds + p.benchCpu.cpuSeconds + collectors) * 1e6) / p.rowsCounted;
}

const us = (n: number) => `${n.toFixed(1)} µs`;
const loads = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' / ');
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(n >= 10 ? 1 : 2)} ms`);
const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
const mb = (bytes: number) => `${Math.round(bytes / 1e6).toLocaleString('en-US')}`;
const mib = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MiB`;
const rate = (p: HourPhaseReport) => int(p.rowsPerSecond);
const cores = (c: CpuFigure | undefined) => (c ? `${c.cores.toFixed(2)} cores` : '—');

function gib(bytes: number): string {
  const g = bytes / 1024 ** 3;
  return g >= 1 ? `${Number.isInteger(g) ? g : g.toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;
}

function dur(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}
