import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { HarvestRecords } from '../../collector/newrelic/harvest-records.js';
import type { TestCluster } from '../harness/mariadb.js';
import { capture, shiftedMetricData } from '../harness/newrelic-captures.js';
import { agentPost, capturedPair as pair, committed, scrape, setupAgent, startCollectorCluster, startTestCollector, type AgentSetup, type CollectorCluster, type RunningCollector } from './collector-newrelic-helpers.js';

/**
 * Collectors that share agent runs (collector processes on one port, machines behind a load
 * balancer): a run's harvests reach either, and each is counted once (README, "Several collector
 * machines behind a load balancer").
 */
let c: TestCluster;
let col: RunningCollector;
let cluster: CollectorCluster;

beforeAll(async () => {
  cluster = await startCollectorCluster({});
  ({ c, col } = cluster);
});
afterAll(async () => cluster?.stop());

const now = () => Date.now() / 1000;
const agentSetup = (name: string) => setupAgent(cluster, name);

describe('two collectors behind one load balancer', () => {
  /** Three consecutive harvests of the run, and a post of one to a collector. */
  const harvests = (s: AgentSetup) => {
    const h1 = shiftedMetricData(capture('06'), s.run, now() - 300, 240);
    const h2 = [s.run, (h1[2] as number) + 0.001, (h1[2] as number) + 60, capture('06').body[3]];
    const h3 = [s.run, (h2[2] as number) + 0.001, (h2[2] as number) + 60, capture('05').body[3]];
    return { h1, h2, h3, via: (target: RunningCollector, body: unknown) => agentPost(target, 'metric_data', body, { licenseKey: s.key, runId: s.run }) };
  };

  it('share a run: harvests alternate between them, a merged resend crosses over, each counted once', async () => {
    const s = await agentSetup('two-collectors');
    const other = await startTestCollector(c);
    try {
      const { h1, h2, h3, via } = harvests(s);
      const reads = async (target: RunningCollector): Promise<Record<string, number>> =>
        Object.fromEntries(await Promise.all(['unseen', 'moved', 'resend'].map(async (r) => [r, await scrape(target, 'apm_collector_harvest_record_reads_total', { reason: r })] as const)));
      const [colBefore, otherBefore] = [await reads(col), await reads(other)];
      const since = async (target: RunningCollector, before: Record<string, number>) => {
        const now = await reads(target);
        return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k]!]));
      };
      expect((await via(col, h1)).status).toBe(200);
      expect((await via(other, h2)).status).toBe(200);
      // col saw the run at h1 only; other moved the record on (a version col does not know). h3 starts
      // later than the record col saw, so col saves it over whatever record started earlier, unread.
      expect((await via(col, h3)).status).toBe(200);
      expect(await since(col, colBefore)).toEqual({ unseen: 1, moved: 0, resend: 0 });
      expect(await since(other, otherBefore)).toEqual({ unseen: 1, moved: 0, resend: 0 });
      const { first, merged } = pair(s.run);
      expect((await via(other, first)).status).toBe(200);
      expect((await via(col, merged)).status).toBe(200);
      const got = await committed(s.store, s.id, s.agentId);
      const wt = (b: unknown[]) => (b[3] as Array<[{ name: string; scope?: string }, number[]]>).find(([m]) => m.name === 'WebTransaction' && !m.scope)?.[1][0] ?? 0;
      expect(got.get('WebTransaction|')!.count).toBe(19 + 19 + 413 + wt(merged));
      expect(got.get('Supportability/Nodejs/Collector/Output/Bytes|')!.count).toBe(8 + 8 + 35 + 8);
    } finally {
      await other.handle.stop();
    }
  });

  it('a harvest read through the record is saved although the other collector saved an earlier one between the read and the save', async () => {
    const s = await agentSetup('read-then-moved');
    const other = await startTestCollector(c);
    const load = HarvestRecords.prototype.load;
    let spy: MockInstance<HarvestRecords['load']> | undefined;
    try {
      const { h1, h2, h3, via } = harvests(s);
      expect((await via(col, h1)).status).toBe(200);
      // `other` has not seen the run: it reads the record (h1's), and before it saves h3, `col` saves h2
      // (col saw the run at h1: its save needs no read). h3 still starts later than the stored record.
      let h2Status = 0;
      spy = vi.spyOn(HarvestRecords.prototype, 'load').mockImplementationOnce(async function (this: HarvestRecords, ...args: Parameters<HarvestRecords['load']>) {
        const read = await load.apply(this, args);
        h2Status = (await via(col, h2)).status;
        return read;
      });
      expect((await via(other, h3)).status).toBe(200);
      expect([h2Status, spy.mock.calls.length]).toEqual([200, 1]);
      const [record] = await s.store.pool.query<any[]>('SELECT harvest_start, version FROM harvest_records WHERE account_id = ?', [s.id]);
      expect(record).toEqual([{ harvest_start: h3[1], version: 3 }]);
      const got = await committed(s.store, s.id, s.agentId);
      expect([got.get('WebTransaction|')!.count, got.get('Supportability/Nodejs/Collector/Output/Bytes|')!.count]).toEqual([19 + 19 + 413, 8 + 8 + 35]);
    } finally {
      spy?.mockRestore();
      await other.handle.stop();
    }
  });
});
