import type { Generated } from 'kysely';

/**
 * Kysely types of the directory database (schema/directory/): every table, column for column. Numbers
 * arrive as numbers (mysql2 supportBigNumbers), TIMESTAMPs as strings (dateStrings).
 */
export interface DirectoryDatabase {
  shards: { id: Generated<number>; address: string; state: Generated<ShardState>; created_at: Generated<string> };
  plans: { name: string; minute_days: number; hour_days: number; day_days: number | null };
  accounts: {
    id: Generated<number>;
    name: string;
    plan: string;
    shard_id: number;
    license_key_hash: string;
    read_key_hash: string;
    browser_key: string;
    created_at: Generated<string>;
  };
  applications: {
    id: Generated<number>;
    account_id: number;
    name: string;
    apdex_t: Generated<number>;
    browser_apdex_t: Generated<number>;
    allowed_origins: string;
    created_at: Generated<string>;
  };
  assignment_cursor: { id: number; last_shard_id: number };
  /** schema/directory/0002-moves.sql, 0004 (target_before). */
  account_moves: {
    id: Generated<number>;
    account_id: number;
    from_shard: number;
    to_shard: number;
    state: 'copying' | 'syncing' | 'switching' | 'switched' | 'done' | 'rolled_back';
    /** 1 while unfinished, NULL after (so the unique key allows one active move per account). */
    active: Generated<number | null>;
    tables_total: Generated<number>;
    tables_done: Generated<number>;
    rows_copied: Generated<number>;
    fenced_ms: number | null;
    /** JSON (VerifiedSummary). */
    verified: string | null;
    error: string | null;
    created_at: Generated<string>;
    updated_at: Generated<string>;
    finished_at: string | null;
    /** JSON (TargetBefore). */
    target_before: string | null;
  };
  /** schema/directory/0003-alerts.sql */
  alert_channels: { id: Generated<number>; account_id: number; name: string; type: 'email' | 'webhook' | 'pagerduty'; config: string; created_at: Generated<string> };
  alert_policies: {
    id: Generated<number>;
    account_id: number;
    application_id: number;
    name: string;
    metric: string;
    warning: number | null;
    critical: number | null;
    duration_minutes: number;
    /** JSON array of channel ids. */
    channels: string;
    enabled: Generated<number>;
    created_at: Generated<string>;
  };
  alert_policy_state: { policy_id: number; last_minute: Generated<number>; state: string; evaluated_by: string | null; updated_at: Generated<string> };
  alert_incidents: {
    id: Generated<number>;
    account_id: number;
    application_id: number;
    kind: 'policy' | 'down';
    source_id: number;
    title: string;
    level: 'warning' | 'critical';
    state: Generated<'open' | 'closed'>;
    active: Generated<number | null>;
    opened_at: number;
    updated_at: number;
    closed_at: number | null;
    acknowledged_at: number | null;
    acknowledged_by: string | null;
    transitions: Generated<number>;
    detail: string;
  };
  alert_notifications: {
    id: Generated<number>;
    incident_id: number;
    seq: number;
    transition: 'open' | 'level' | 'close' | 'ack';
    channel_id: number;
    state: Generated<'pending' | 'sent' | 'failed'>;
    attempts: Generated<number>;
    next_attempt_at: number;
    claimed_until: Generated<number>;
    claimed_by: string | null;
    last_error: string | null;
    sent_at: number | null;
  };
  monitors: {
    id: Generated<number>;
    account_id: number;
    application_id: number;
    name: string;
    url: string;
    interval_seconds: Generated<number>;
    timeout_ms: Generated<number>;
    expected_status: Generated<number>;
    body_contains: string | null;
    /** JSON array of channel ids. */
    channels: string;
    enabled: Generated<number>;
    created_at: Generated<string>;
  };
  monitor_state: {
    monitor_id: number;
    next_check_at: Generated<number>;
    claimed_until: Generated<number>;
    claimed_by: string | null;
    failures: Generated<number>;
    last_status: string | null;
    last_checked_at: number | null;
  };
  /** schema/directory/0004: bumped with every key change (lib/directory/key-epoch.ts). */
  key_epoch: { id: number; version: number };
  /** schema/directory/0005-replicas.sql */
  shard_replicas: { shard_id: number; address: string; created_at: Generated<string> };
}

export type ShardState = 'open' | 'closed';

export interface Shard {
  id: number;
  address: string;
  state: ShardState;
}

export interface Retention {
  minuteDays: number;
  hourDays: number;
  /** null: kept forever. */
  dayDays: number | null;
}

export interface Account {
  id: number;
  name: string;
  plan: string;
  shardId: number;
  browserKey: string;
  retention: Retention;
  createdAt: string;
}

export interface Application {
  id: number;
  accountId: number;
  name: string;
  /** Apdex threshold T of server-side transactions, seconds. */
  apdexT: number;
  /** Apdex threshold T of browser page loads, seconds. */
  browserApdexT: number;
  /** Origins allowed to post browser beacons ("https://shop.example"); empty = none. */
  allowedOrigins: string[];
}

/** What createAccount returns: the only time the secret keys are visible. */
export interface NewAccount {
  account: Account;
  licenseKey: string;
  browserKey: string;
  readKey: string;
}
