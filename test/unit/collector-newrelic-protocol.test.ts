import { describe, expect, it } from 'vitest';
import { AuthError, InputError, RetryableError } from '../../lib/errors.js';
import { HELD_PER_DECODED_BYTE, heldForDecoded, InflightBudget } from '../../collector/inflight-budget.js';
import { parseAgentQuery } from '../../collector/newrelic/agent-query.js';
import { connectReply, exceptionReply, redirectHost } from '../../collector/newrelic/agent-replies.js';
import { parseConnectRequest } from '../../collector/newrelic/connect-request.js';
import { harvestRows } from '../../collector/newrelic/harvest-rows.js';
import { keyFingerprint, RunToken, type RunClaims } from '../../collector/newrelic/run-token.js';
import { capture } from '../harness/newrelic-captures.js';

const queryOf = (prefix: string) => capture(prefix).url.split('?')[1]!;

describe('agent query string', () => {
  it('reads every captured request line', () => {
    expect(parseAgentQuery(queryOf('01'))).toEqual({ method: 'preconnect', licenseKey: '0123456789abcdef0123456789abcdef01234567', runId: undefined });
    expect(parseAgentQuery(queryOf('02')).method).toBe('connect');
    expect(parseAgentQuery(queryOf('05'))).toEqual({ method: 'metric_data', licenseKey: '0123456789abcdef0123456789abcdef01234567', runId: 'fake-run-1' });
    for (const p of ['03', '07', '08', '09', '10', '11', '12', '13']) expect(parseAgentQuery(queryOf(p)).runId).toBe('fake-run-1');
  });

  const bad: Array<[string, string, typeof InputError | typeof AuthError, RegExp]> = [
    ['no method', 'protocol_version=17&license_key=k', InputError, /has no method parameter/],
    ['unknown method', 'method=get_everything&protocol_version=17&license_key=k', InputError, /"get_everything": unknown method/],
    ['other protocol', 'method=connect&protocol_version=14&license_key=k', InputError, /protocol_version must be 17, got "14"/],
    ['other marshal format', 'method=connect&protocol_version=17&marshal_format=xml&license_key=k', InputError, /marshal_format must be json/],
    ['no license key', 'method=connect&protocol_version=17', AuthError, /missing or malformed license_key/],
    ['no run id', 'method=metric_data&protocol_version=17&license_key=k', AuthError, /missing run_id/],
  ];
  it.each(bad)('%s', (_what, q, type, message) => {
    expect(() => parseAgentQuery(q)).toThrow(type);
    expect(() => parseAgentQuery(q)).toThrow(message);
  });
});

describe('connect request', () => {
  it('reads the captured connect body (14.5.1 and 13.20)', () => {
    expect(parseConnectRequest(capture('02').body)).toEqual({ appNames: ['research-app'], host: 'vm', pid: 16828, language: 'nodejs', agentVersion: '14.5.1' });
  });
  it('takes up to three distinct names, also as one ;-separated string', () => {
    expect(parseConnectRequest([{ app_name: 'a; b;a', host: 'h', pid: 1, language: 'nodejs' }]).appNames).toEqual(['a', 'b']);
    expect(() => parseConnectRequest([{ app_name: ['a', 'b', 'c', 'd'], host: 'h', pid: 1, language: 'nodejs' }])).toThrow(/4 application names, at most 3/);
  });
  it.each([
    [[], /body must be/],
    [[{ app_name: [], host: 'h', pid: 1, language: 'nodejs' }], /app_name must be a non-empty list/],
    [[{ app_name: ['x\u0000'], host: 'h', pid: 1, language: 'nodejs' }], /app_name "x\\u0000" contains a control character/],
    [[{ app_name: ['a'], host: '', pid: 1, language: 'nodejs' }], /host is empty/],
    [[{ app_name: ['a'], host: 'h', pid: -1, language: 'nodejs' }], /pid must be a whole number/],
    [[{ app_name: ['a'], host: 'h', pid: 1, language: 'no de' }], /language must be a short name/],
  ])('refuses %j', (body, message) => {
    expect(() => parseConnectRequest(body)).toThrow(InputError);
    expect(() => parseConnectRequest(body)).toThrow(message);
  });
});

describe('run ids', () => {
  const claims: RunClaims = {
    accountId: 42,
    keyFingerprint: keyFingerprint('license-a'),
    applications: [{ applicationId: 3, agentId: 11, applicationAgentId: 10 }],
    nonce: '0123456789abcdef',
    issuedAt: 1795393460,
  };
  const token = new RunToken('x'.repeat(32));

  it('round-trip the claims, URL-safe', () => {
    const id = token.sign(claims);
    expect(id).toMatch(/^r1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(token.verify(id, 'license-a')).toEqual(claims);
    // Verified once per run id and key: the same frozen claims again.
    const again = token.verify(id, 'license-a');
    expect(again).toBe(token.verify(id, 'license-a'));
    expect(Object.isFrozen(again) && Object.isFrozen(again.applications) && Object.isFrozen(again.applications[0])).toBe(true);
  });
  it('refuse forged, altered, foreign and other-secret ids with 401, also after the id was verified with its own key', () => {
    const id = token.sign(claims);
    expect(token.verify(id, 'license-a')).toEqual(claims);
    const [v, body, mac] = id.split('.');
    const altered = `${v}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), a: 43 })).toString('base64url')}.${mac}`;
    const cases: Array<[string, string, RegExp]> = [
      ['fake-run-1', 'license-a', /not issued by this collector/],
      [altered, 'license-a', /signature does not match/],
      [id, 'license-b', /belongs to another license key/],
      [new RunToken('y'.repeat(32)).sign(claims), 'license-a', /signature does not match/],
    ];
    for (const [runId, key, message] of cases) {
      let err: unknown;
      try {
        token.verify(runId, key);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AuthError);
      expect((err as AuthError).status).toBe(401);
      expect((err as Error).message).toMatch(message);
    }
  });
});

describe('replies', () => {
  it('connect answer carries the run id, ids as strings, apdex T and harvest limits scaled to the period', () => {
    const r = connectReply({ runId: 'r1.x.y', accountId: 4, applications: [{ id: 9, name: 'shop', apdexT: 0.25 }], eventPeriodMs: 5000, maxPayloadBytes: 1_000_000 });
    expect(r.return_value).toMatchObject({
      agent_run_id: 'r1.x.y',
      account_id: '4',
      application_id: '9',
      primary_application_id: '9',
      apdex_t: 0.25,
      max_payload_size_in_bytes: 1_000_000,
      event_harvest_config: { report_period_ms: 5000, harvest_limits: { analytic_event_data: 833, custom_event_data: 250, error_event_data: 8, log_event_data: 833 } },
      span_event_harvest_config: { report_period_ms: 5000, harvest_limit: 167 },
    });
  });
  it('preconnect redirects to the public address, else the host the agent used with our port', () => {
    expect(redirectHost('collector.example:443', '127.0.0.1', 8443, '127.0.0.1')).toBe('collector.example:443');
    expect(redirectHost(undefined, 'localhost', 8443, '127.0.0.1')).toBe('localhost:8443');
    expect(redirectHost(undefined, 'localhost:9999', 8443, '127.0.0.1')).toBe('localhost:8443');
    expect(redirectHost(undefined, 'bad host/', 8443, '127.0.0.1')).toBe('127.0.0.1:8443');
  });
  it('errors carry the message and a type', () => {
    expect(exceptionReply(401, 'cannot connect agent: unknown license key')).toEqual({
      exception: { message: 'cannot connect agent: unknown license key', error_type: 'NewRelic::Agent::LicenseException' },
    });
    expect(exceptionReply(503, 'x').exception.error_type).toBe('NewRelic::Agent::ServiceUnavailable');
  });
});

describe('harvest rows', () => {
  const stats = { callCount: 2, totalTime: 1, exclusiveTime: 1, minTime: 0.25, maxTime: 0.75, sumOfSquares: 0.625 };
  it('writes each metric for the agent, naming its application pseudo-agent, per application', () => {
    const rows = harvestRows([{ name: 'A', scope: '', stats }], 600, [
      { agentId: 5, applicationAgentId: 1, metricIds: [100] },
      { agentId: 6, applicationAgentId: 2, metricIds: [100] },
    ]);
    expect(rows.map((w) => [w.kind, w.t, w.row.metricId, w.row.agentId, w.row.period, w.row.callCount, w.applicationAgentId])).toEqual([
      ['minute', 600, 100, 5, 600, 2, 1],
      ['minute', 600, 100, 6, 600, 2, 2],
    ]);
  });
  it('merges metrics folded onto one id (overflow) without touching the input', () => {
    const metrics = [{ name: 'A', scope: '', stats }, { name: 'B', scope: '', stats: { ...stats, minTime: 0.1 } }];
    const rows = harvestRows(metrics, 600, [{ agentId: 5, applicationAgentId: 1, metricIds: [9, 9] }]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.applicationAgentId).toBe(1);
    expect(rows[0]!.row).toEqual({ metricId: 9, agentId: 5, period: 600, callCount: 4, totalTime: 2, exclusiveTime: 2, minTime: 0.1, maxTime: 0.75, sumOfSquares: 1.25 });
    expect(metrics[0]!.stats.callCount).toBe(2);
  });
});

describe('in-flight budget', () => {
  it('refuses with 503 past the bound and releases exactly', () => {
    const seen: number[] = [];
    const b = new InflightBudget(100, (u) => seen.push(u));
    b.take(60);
    expect(() => b.take(41)).toThrow(RetryableError);
    b.take(40);
    b.release(60);
    b.release(40);
    expect(b.used).toBe(0);
    b.take(500); // one request alone may use it all (the body limit bounds it)
    expect(seen).toEqual([60, 100, 40, 0, 500]);
  });

  it('counts what a body decodes into, 8 bytes per decoded byte, besides the body as sent', () => {
    expect(HELD_PER_DECODED_BYTE).toBe(8);
    expect(heldForDecoded(10_000)).toBe(80_000);
    // A 10 kB harvest sent uncompressed holds 10 kB + 80 kB: with 150 kB, a second one waits (503).
    const b = new InflightBudget(150_000);
    b.take(10_000);
    b.take(heldForDecoded(10_000));
    expect(() => b.take(10_000 + heldForDecoded(10_000))).toThrow('cannot accept request: 90000 bytes are already in progress (limit 150000)');
  });

  it('a request alone may grow past the bound with what its body decodes into; with others in progress it waits', () => {
    const b = new InflightBudget(100_000);
    b.take(1_000); // its body, before reading
    b.take(heldForDecoded(16_000), 1_000); // 128,000 more: nobody else holds anything
    expect(b.used).toBe(129_000);
    b.release(129_000);
    b.take(500); // another request's body
    b.take(1_000);
    expect(() => b.take(heldForDecoded(16_000), 1_000)).toThrow('cannot accept request: 500 bytes are already in progress (limit 100000)');
    expect(b.used).toBe(1_500);
  });
});
