import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentPost, committed, connectAgent, setupAgent, startCollectorCluster, type CollectorCluster } from './collector-newrelic-helpers.js';

let cluster: CollectorCluster;
beforeAll(async () => {
  cluster = await startCollectorCluster({});
});
afterAll(async () => cluster?.stop());

const agent = (name: string) => setupAgent(cluster, name);

describe('an agent whose data cannot be stored (issue #18, part 1, over the agent protocol)', () => {
  it('gets 400 naming the problem; another account on the same shard gets 200 for every harvest, exactly', async () => {
    const poison = await agent('poison-nr');
    const clean = await agent('clean-nr');
    expect(poison.shardId).toBe(clean.shardId);
    const m = Math.floor(Date.now() / 60_000) * 60 - 180; // a closed minute: every harvest below ends inside it
    // Values that would overflow DOUBLE once merged (the writer isolates such a request: shard-writer-isolation.test.ts)
    // are now refused at validation (#18 part 1, bounds at the edge), with the field named, before any write.
    const big = (start: number, end: number) => [poison.run, start, end, [[{ name: 'Custom/big' }, [1, 1e308, 1e308, 0, 1e308, 1e308]]]];
    const first = await poison.post('metric_data', big(m + 1, m + 2));
    expect([first.status, first.body.exception.message]).toEqual([400, expect.stringMatching(/total time 1e\+308 is above the maximum 1000000000000000/)]);
    // The clean account: 40 agent runs (an agent posts its harvests one at a time), one harvest each.
    const runs = await Promise.all(Array.from({ length: 40 }, (_, i) => connectAgent(cluster.col, clean.key, { apps: ['app'], host: 'web-2', pid: 100 + i })));
    const cleanPost = (run: string) =>
      agentPost(cluster.col, 'metric_data', [run, m + 2, m + 3, [[{ name: 'WebTransaction' }, [2, 0.5, 0.25, 0.125, 0.375, 0.15625]]]], { licenseKey: clean.key, runId: run });
    const answers = await Promise.all([...runs.slice(0, 20).map(cleanPost), poison.post('metric_data', big(m + 2, m + 3)), ...runs.slice(20).map(cleanPost)]);
    const p = answers.splice(20, 1)[0]!;
    expect(answers.map((a) => (a.status === 200 ? 200 : `${a.status} ${JSON.stringify(a.body)}`))).toEqual(Array(40).fill(200));
    expect(p.status).toBe(400);
    expect(p.body.exception.message).toMatch(/total time 1e\+308 is above the maximum/);
    // The application-wide rows of the clean account: every one of the 40 harvests, once.
    expect((await committed(clean.store, clean.id, clean.appAgentId)).get('WebTransaction|')).toEqual({ count: 80, total: 20, exclusive: 10, min: 0.125, max: 0.375, sumsq: 6.25 });
    expect((await committed(poison.store, poison.id, poison.agentId)).get('Custom/big|')).toBeUndefined();
  });
});
