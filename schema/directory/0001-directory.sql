-- Directory: shards, plans, accounts, applications and the round-robin assignment cursor.
-- Applied idempotently by lib/directory/directory-schema.ts (statements separated by ";" at line end).
CREATE TABLE IF NOT EXISTS shards (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  address VARCHAR(255) NOT NULL,
  state ENUM('open', 'closed') NOT NULL DEFAULT 'open',
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY shards_address (address)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS plans (
  name VARCHAR(32) NOT NULL PRIMARY KEY,
  minute_days INT UNSIGNED NOT NULL,
  hour_days INT UNSIGNED NOT NULL,
  -- NULL: daily data is kept forever
  day_days INT UNSIGNED NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO plans (name, minute_days, hour_days, day_days) VALUES
  ('free', 8, 90, 365),
  ('paid', 8, 90, NULL);

CREATE TABLE IF NOT EXISTS accounts (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  plan VARCHAR(32) NOT NULL,
  shard_id INT UNSIGNED NOT NULL,
  -- SHA-256 hex of the ingest license key and of the read API key; the keys themselves are shown once
  license_key_hash CHAR(64) NOT NULL,
  read_key_hash CHAR(64) NOT NULL,
  -- the browser key is public (it is in every page), so it is stored as it is
  browser_key VARCHAR(64) NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY accounts_license (license_key_hash),
  UNIQUE KEY accounts_read (read_key_hash),
  UNIQUE KEY accounts_browser (browser_key),
  KEY accounts_shard (shard_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS applications (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL,
  -- Apdex threshold T in seconds
  apdex_t DOUBLE NOT NULL DEFAULT 0.5,
  browser_apdex_t DOUBLE NOT NULL DEFAULT 4,
  -- JSON array of origins allowed to post browser beacons, e.g. ["https://shop.example"]
  allowed_origins TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY applications_name (account_id, name)
) ENGINE=InnoDB;

-- One row (id = 1): the shard the last account was assigned to. Locked FOR UPDATE per creation.
CREATE TABLE IF NOT EXISTS assignment_cursor (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  last_shard_id INT UNSIGNED NOT NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO assignment_cursor (id, last_shard_id) VALUES (1, 0);
