import type { Generated } from 'kysely';

/** Kysely types of the directory database (schema/directory/). */
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
