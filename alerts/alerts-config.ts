import cron from 'node-cron';
import { ConfigError, type Config } from '../lib/config/config.js';
import type { VariableSpec } from '../lib/config/variable-spec.js';

/** The alerts service's APM_ variables (documented in the README's configuration table). */
export const alertsVariables: VariableSpec[] = [
  { name: 'APM_ALERTS_SCHEDULE', type: 'string', default: '*/20 * * * * *', doc: 'node-cron expression of alert evaluation runs; each run evaluates every policy over the minutes settled since its last evaluation (once each, whichever alert process runs it).' },
  { name: 'APM_ALERTS_SETTLE_SECONDS', type: 'integer', default: '30', min: 0, max: 3600, doc: 'How long after a minute ends before alerts evaluate it (agents harvest every 60 s; the collector files a harvest under the minute it ended in).' },
  { name: 'APM_ALERTS_PARTITION_CONCURRENCY', type: 'integer', default: '4', min: 1, max: 64, doc: 'Evaluation partitions (of 64) one alert process evaluates at once, each reading up to 4 applications at a time.' },
  { name: 'APM_ALERTS_METRICS_PORT', type: 'port', default: '9472', doc: 'Port of the alerts service\'s Prometheus /metrics endpoint (0 = any free port).' },
  { name: 'APM_ALERTS_DASHBOARD_URL', type: 'string', default: 'http://127.0.0.1:8080', doc: 'Base URL of the dashboard, for the chart links in notifications.' },
  { name: 'APM_ALERTS_SMTP_HOST', type: 'string', doc: 'SMTP server for email channels (unset: email notifications fail and are retried, counted as failed).' },
  { name: 'APM_ALERTS_SMTP_PORT', type: 'port', default: '587', doc: 'Port of the SMTP server.' },
  { name: 'APM_ALERTS_SMTP_TLS', type: 'enum', values: ['tls', 'starttls', 'none'], default: 'starttls', doc: 'tls (implicit TLS, usually port 465), starttls (upgrade required) or none (plain, loopback or trusted networks only).' },
  { name: 'APM_ALERTS_SMTP_USER', type: 'string', doc: 'SMTP user name (unset: no authentication).' },
  { name: 'APM_ALERTS_SMTP_PASSWORD', type: 'string', doc: 'SMTP password of APM_ALERTS_SMTP_USER (never logged).' },
  { name: 'APM_ALERTS_SMTP_FROM', type: 'string', default: 'APM alerts <alerts@localhost>', doc: 'From address of alert emails.' },
  { name: 'APM_ALERTS_PAGERDUTY_URL', type: 'string', default: 'https://events.pagerduty.com/v2/enqueue', doc: 'PagerDuty Events API v2 endpoint that pagerduty channels post to.' },
  { name: 'APM_ALERTS_SEND_TIMEOUT_MS', type: 'integer', default: '10000', min: 100, max: 120000, doc: 'How long one notification attempt may take before it counts as failed and is retried.' },
  { name: 'APM_ALERTS_MAX_ATTEMPTS', type: 'integer', default: '8', min: 1, max: 50, doc: 'Attempts per notification (backoff 30 s doubling, capped at 1 h) before it is marked failed.' },
];

export type SmtpTls = 'tls' | 'starttls' | 'none';

export interface AlertsSettings {
  schedule: string;
  settleSeconds: number;
  partitionConcurrency: number;
  metricsHost: string;
  metricsPort: number;
  dashboardUrl: string;
  smtp: { host: string; port: number; tls: SmtpTls; user?: string; password?: string; from: string } | undefined;
  pagerDutyUrl: string;
  sendTimeoutMs: number;
  maxAttempts: number;
}

export function alertsSettings(config: Config): AlertsSettings {
  const problems: string[] = [];
  const schedule = config.str('APM_ALERTS_SCHEDULE');
  if (!cron.validate(schedule)) problems.push(`APM_ALERTS_SCHEDULE=${JSON.stringify(schedule)}: must be a cron expression such as "*/20 * * * * *"`);
  const tls = config.str('APM_ALERTS_SMTP_TLS');
  for (const name of ['APM_ALERTS_DASHBOARD_URL', 'APM_ALERTS_PAGERDUTY_URL']) {
    if (!/^https?:\/\/[^\s]+$/.test(config.str(name))) problems.push(`${name}=${JSON.stringify(config.str(name))}: must be an http or https URL`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const host = config.optStr('APM_ALERTS_SMTP_HOST');
  const user = config.optStr('APM_ALERTS_SMTP_USER');
  const password = config.optStr('APM_ALERTS_SMTP_PASSWORD');
  return {
    schedule,
    settleSeconds: config.num('APM_ALERTS_SETTLE_SECONDS'),
    partitionConcurrency: config.num('APM_ALERTS_PARTITION_CONCURRENCY'),
    metricsHost: config.str('APM_BIND_HOST'),
    metricsPort: config.num('APM_ALERTS_METRICS_PORT'),
    dashboardUrl: config.str('APM_ALERTS_DASHBOARD_URL').replace(/\/+$/, ''),
    smtp: host ? { host, port: config.num('APM_ALERTS_SMTP_PORT'), tls: tls as SmtpTls, ...(user ? { user } : {}), ...(password ? { password } : {}), from: config.str('APM_ALERTS_SMTP_FROM') } : undefined,
    pagerDutyUrl: config.str('APM_ALERTS_PAGERDUTY_URL'),
    sendTimeoutMs: config.num('APM_ALERTS_SEND_TIMEOUT_MS'),
    maxAttempts: config.num('APM_ALERTS_MAX_ATTEMPTS'),
  };
}
