import { describe, expect, it } from 'vitest';
import { validateChannel } from '../../alerts/channel-input.js';
import { chartUrl, pagerDutyOf, slackOf, textOf, eventOf } from '../../alerts/notification-message.js';
import { validatePolicy } from '../../alerts/policy-input.js';
import { hostAllowed, validateMonitor } from '../../pinger/monitor-input.js';

const channels = new Set([3, 4]);
const ok = { name: 'errors', metric: 'error_rate', warning: '5%', critical: '10%', duration: '3m', channels: [3] };

describe('policy validation', () => {
  it('reads thresholds in the metric unit', () => {
    expect(validatePolicy(ok, channels)).toEqual({ name: 'errors', metric: 'error_rate', warning: 5, critical: 10, durationMinutes: 3, channels: [3], enabled: true });
    expect(validatePolicy({ ...ok, metric: 'response-time', warning: '500ms', critical: '2s', channels: '3,4' }, channels)).toMatchObject({ metric: 'response_time', warning: 500, critical: 2000, channels: [3, 4] });
    expect(validatePolicy({ name: 'slow', metric: 'apdex', critical: 0.7, duration: 1 }, channels)).toMatchObject({ warning: null, critical: 0.7, durationMinutes: 1 });
  });
  it.each([
    [{ ...ok, metric: 'cpu' }, 'metric "cpu" is unknown'],
    [{ ...ok, metric: 'response_time', warning: undefined, critical: '10%' }, 'critical "10%" has the wrong unit for response_time'],
    [{ ...ok, metric: 'apdex', warning: undefined, critical: '95' }, 'critical "95" is out of range for apdex'],
    [{ ...ok, critical: 'lots' }, 'critical "lots" is not a number'],
    [{ ...ok, warning: '20%' }, 'critical 10 must be above warning 20'],
    [{ ...ok, metric: 'apdex', warning: 0.7, critical: 0.9 }, 'critical 0.9 must be below warning 0.7'],
    [{ ...ok, channels: [9] }, 'channels names unknown channel 9'],
    [{ ...ok, duration: '0' }, 'duration "0" must be whole minutes'],
    [{ ...ok, name: '' }, 'name must be 1 to 128 characters'],
    [{ ...ok, warning: undefined, critical: undefined }, 'critical (or warning) threshold is required'],
  ])('refuses %j naming the field', (input, message) => {
    expect(() => validatePolicy(input, channels)).toThrow(message);
  });
});

describe('channel and monitor validation', () => {
  const secret = () => 'generated-secret-0123456789';
  it('accepts the three types', () => {
    expect(validateChannel({ name: 'm', type: 'email', to: 'a@x.test, b@x.test' }, secret).config).toEqual({ type: 'email', to: ['a@x.test', 'b@x.test'] });
    expect(validateChannel({ name: 'w', type: 'webhook', url: 'https://hooks.slack.test/x', format: 'slack' }, secret).config).toEqual({ type: 'webhook', url: 'https://hooks.slack.test/x', secret: 'generated-secret-0123456789', format: 'slack' });
    expect(validateChannel({ name: 'p', type: 'pagerduty', routingKey: 'a'.repeat(32) }, secret).config).toEqual({ type: 'pagerduty', routingKey: 'a'.repeat(32) });
  });
  it.each([
    [{ name: 'x', type: 'sms' }, 'type "sms" is unknown'],
    [{ name: 'x', type: 'email', to: 'nobody' }, 'to "nobody" is not an email address'],
    [{ name: 'x', type: 'webhook', url: 'ftp://x.test/' }, 'url must be an http or https URL'],
    [{ name: 'x', type: 'webhook', url: 'https://x.test/', format: 'xml' }, 'format "xml" must be json or slack'],
    [{ name: 'x', type: 'pagerduty', routingKey: 'short' }, 'routingKey must be'],
  ])('refuses %j', (input, message) => {
    expect(() => validateChannel(input, secret)).toThrow(message);
  });
  it('monitors: http(s) only, interval at least 10 s, timeout within the interval, allowed hosts', () => {
    expect(validateMonitor({ name: 'home', url: 'https://shop.test/health' }, channels, [])).toMatchObject({ intervalSeconds: 30, timeoutMs: 10000, expectedStatus: 200, bodyContains: null });
    expect(() => validateMonitor({ name: 'home', url: 'file:///etc/passwd' }, channels, [])).toThrow('url must be an http or https URL');
    expect(() => validateMonitor({ name: 'home', url: 'http://x.test/', interval: 5 }, channels, [])).toThrow('interval 5 must be a whole number of seconds from 10 to 3600');
    expect(() => validateMonitor({ name: 'home', url: 'http://x.test/', interval: 10, timeout: 20000 }, channels, [])).toThrow('timeout 20000 ms must not exceed the interval');
    expect(() => validateMonitor({ name: 'a/b', url: 'http://x.test/' }, channels, [])).toThrow('name must be 1 to 100 letters');
    expect(() => validateMonitor({ name: 'home', url: 'http://10.0.0.1/' }, channels, ['.shop.test'])).toThrow('url host 10.0.0.1 is not allowed');
    expect([hostAllowed('api.shop.test', ['.shop.test']), hostAllowed('shop.test', ['.shop.test']), hostAllowed('evil.test', ['.shop.test']), hostAllowed('x', [])]).toEqual([true, true, false, true]);
  });
});

describe('notification messages', () => {
  const inc = {
    id: 42, accountId: 1, applicationId: 7, kind: 'policy' as const, sourceId: 3, title: 'errors: error rate above 10 % for 3 min', level: 'critical' as const,
    state: 'open' as const, openedAt: 1_800_000_000, updatedAt: 1_800_000_000, closedAt: null, acknowledgedAt: null, acknowledgedBy: null,
    detail: { metric: 'error_rate', unit: '%', direction: 'above', threshold: 10, warning: 5, critical: 10, durationMinutes: 3, values: [[1_799_999_880, 12.5], [1_799_999_940, 50]] },
  };
  const e = eventOf(9, 'open', inc, 'shop', 'http://dash.test', 1_800_000_001);
  it('text carries the values, the chart link and the incident id', () => {
    const text = textOf(e);
    expect(text).toContain('OPENED: errors: error rate above 10 % for 3 min');
    expect(text).toContain('#42 (policy), level critical, open');
    expect(text).toContain('2027-01-15T07:59:00.000Z  50 %');
    expect(text).toContain('Chart: http://dash.test/#/apps/7/overview?from=1799996400&to=1800003600');
    expect(chartUrl('http://d', { ...inc, detail: { metric: 'page_load' } })).toContain('/browser?');
  });
  it('slack and PagerDuty forms', () => {
    expect(slackOf(e).text).toBe(':red_circle: *OPENED* shop: errors: error rate above 10 % for 3 min (incident #42) <http://dash.test/#/apps/7/overview?from=1799996400&to=1800003600|chart>');
    expect(pagerDutyOf(e, 'k')).toMatchObject({ event_action: 'trigger', dedup_key: 'apm-incident-42', payload: { severity: 'critical', source: 'shop', class: 'error_rate' } });
    expect(pagerDutyOf({ ...e, event: 'close' }, 'k')).toEqual({ routing_key: 'k', event_action: 'resolve', dedup_key: 'apm-incident-42' });
  });
});
