import { startAlerts } from '../alerts/alerts.js';
import { POLICY_PARTITIONS } from '../alerts/alert-store.js';
import { validatePolicy, type PolicyInput } from '../alerts/policy-input.js';
import type { WriteRow } from '../lib/shard/shard-writer.js';
import { gib, type PoolState } from './pool-state.js';

/** What the alerts phase measured: evaluation runs over `policies` policies on `applications` applications. */
export interface AlertsFigure {
  policies: number;
  applications: number;
  /** The first run: every policy is new and reads its last `duration` (3) minutes. */
  firstRun: { seconds: number; policyMinutes: number; transitions: number };
  /** A steady run a minute later: one new minute per policy. */
  steadyRun: { seconds: number; policyMinutes: number; transitions: number };
}

const KINDS: PolicyInput[] = [
  { metric: 'error_rate', warning: '5%', critical: '10%' },
  { metric: 'apdex', warning: 0.9, critical: 0.7 },
  { metric: 'response_time', warning: '500ms', critical: '2s' },
  { metric: 'throughput', critical: '1rpm' },
  { metric: 'page_load', warning: '3s', critical: '8s' },
];

/**
 * The alerts phase: `alertPolicies` policies (five kinds per application) on applications spread over
 * the bench's accounts, four minutes of server metrics per application (a quarter of them failing half
 * their requests: their error-rate and Apdex policies open incidents in the first run), then two timed evaluation runs of the real alerts service
 * on the pool's storage and simulated clock: the first (every policy new, three minutes each) and a
 * steady one a minute later. Notifications are not part of it (policies without channels).
 */
export async function alertsPhase(st: PoolState): Promise<void> {
  const { ctx, storage } = st;
  const n = ctx.o.alertPolicies;
  const apps = Math.ceil(n / KINDS.length);
  const minute = ctx.hourStart + 2 * 3600;
  const pool = storage.directory.db.promise;
  const appIds: Array<{ accountId: number; applicationId: number }> = [];
  for (let i = 0; i < apps; i++) {
    const account = st.accounts[i % st.accounts.length]!;
    const app = await storage.directory.ensureApplication(account.id, `alerts-bench-${i}`);
    appIds.push({ accountId: account.id, applicationId: app.id });
  }
  const values: unknown[] = [];
  for (let k = 0; k < n; k++) {
    const { accountId, applicationId } = appIds[Math.floor(k / KINDS.length)]!;
    const d = validatePolicy({ ...KINDS[k % KINDS.length], name: `bench ${k}`, duration: 3 }, new Set());
    values.push(accountId, applicationId, d.name, d.metric, d.warning, d.critical, d.durationMinutes, '[]');
  }
  for (let i = 0; i < values.length; i += 8 * 1000) {
    const chunk = values.slice(i, i + 8 * 1000);
    await pool.query(`INSERT INTO alert_policies (account_id, application_id, name, metric, warning, critical, duration_minutes, channels) VALUES ${Array.from({ length: chunk.length / 8 }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`, chunk);
  }
  for (const [i, a] of appIds.entries()) await writeMinutes(st, a.accountId, a.applicationId, [minute - 120, minute - 60, minute, minute + 60], i % 4 === 0);
  const alerts = await startAlerts({ ...st.deps, config: st.deps.config.with({ APM_ALERTS_METRICS_PORT: '0' }) }, { schedule: false });
  try {
    const timed = async () => {
      const t0 = performance.now();
      const r = await alerts.runNow();
      if (!r) throw new Error('cannot time the alerts run: it failed or overlapped another (see the log)');
      if (r.evaluation.failedPartitions > 0 || r.evaluation.failed > 0) throw new Error(`cannot time the alerts run: ${r.evaluation.failedPartitions} partition(s) and ${r.evaluation.failed} policies failed (see the log)`);
      return { seconds: (performance.now() - t0) / 1000, policyMinutes: r.evaluation.policyMinutes, transitions: r.evaluation.transitions };
    };
    st.clock.now = minute + 60 + 30;
    const firstRun = await timed();
    st.clock.now += 60;
    const steadyRun = await timed();
    st.report.alerts = { policies: n, applications: apps, firstRun, steadyRun };
    ctx.log(`pool ${gib(ctx.bufferPoolBytes)}: alerts ${n} policies on ${apps} applications (${POLICY_PARTITIONS} partitions): first run ${firstRun.seconds.toFixed(2)} s (${firstRun.policyMinutes} policy minutes), steady run ${steadyRun.seconds.toFixed(2)} s`);
  } finally {
    await alerts.stop();
  }
}

async function writeMinutes(st: PoolState, accountId: number, applicationId: number, minutes: number[], failing: boolean): Promise<void> {
  const { account, store } = await st.storage.shards.storeForAccount(accountId);
  const names = ['HttpDispatcher', 'WebTransaction', 'Errors/all', 'Apdex'].map((name) => ({ name, scope: '' }));
  const ids = await store.metricIds(accountId, names, { applicationId });
  const agentId = await store.applicationAgentId(accountId, applicationId);
  const calls = 60;
  const errors = failing ? 30 : 0;
  const slices = [
    { callCount: calls, totalTime: calls * 0.2, exclusiveTime: calls * 0.2, minTime: 0.05, maxTime: 0.9, sumOfSquares: calls * 0.05 },
    { callCount: calls, totalTime: calls * 0.2, exclusiveTime: calls * 0.2, minTime: 0.05, maxTime: 0.9, sumOfSquares: calls * 0.05 },
    { callCount: errors, totalTime: 0, exclusiveTime: 0, minTime: 0, maxTime: 0, sumOfSquares: 0 },
    { callCount: calls - errors, totalTime: 0, exclusiveTime: errors, minTime: 0.5, maxTime: 0.5, sumOfSquares: 0 },
  ];
  const rows: WriteRow[] = minutes.flatMap((minute) => slices.map((s, i) => ({ kind: 'minute' as const, t: minute, row: { ...s, metricId: ids[i]!, agentId, period: minute } }))).filter((r) => r.row.callCount > 0 || r.row.exclusiveTime > 0);
  await st.storage.writer.write({ accountId, shardId: account.shardId, rows });
}
