-- Alerts (alerts/) and availability monitors (pinger/): channels, policies, each policy's evaluation
-- state, incidents, the notification outbox, monitors and their check state. See schema/README.md
-- "Alerts" and docs/alerts.md.

-- Where notifications go. `config` is JSON by type: email {"to": [..]}; webhook {"url", "secret",
-- "format": "json"|"slack"}; pagerduty {"routingKey"}.
CREATE TABLE IF NOT EXISTS alert_channels (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  name VARCHAR(128) NOT NULL,
  type ENUM('email', 'webhook', 'pagerduty') NOT NULL,
  config TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY alert_channels_name (account_id, name)
) ENGINE=InnoDB;

-- One condition on one application: metric (alerts/policy-metrics.ts), thresholds in the metric's
-- canonical unit (score, percent, milliseconds, requests per minute), duration in minutes, channel ids
-- (JSON array). `partition_no` = id mod 64 spreads the evaluation over the alert processes.
CREATE TABLE IF NOT EXISTS alert_policies (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  application_id INT UNSIGNED NOT NULL,
  name VARCHAR(128) NOT NULL,
  metric VARCHAR(32) NOT NULL,
  warning DOUBLE NULL,
  critical DOUBLE NULL,
  duration_minutes SMALLINT UNSIGNED NOT NULL,
  channels TEXT NOT NULL,
  enabled TINYINT UNSIGNED NOT NULL DEFAULT 1,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY alert_policies_name (account_id, name),
  KEY alert_policies_app (application_id)
) ENGINE=InnoDB;

-- Evaluation state of a policy (alerts/condition-state.ts): the last minute evaluated (Unix seconds),
-- the streak counters (JSON) and the open incident. Written only under the policy's partition lock.
CREATE TABLE IF NOT EXISTS alert_policy_state (
  policy_id INT UNSIGNED NOT NULL PRIMARY KEY,
  last_minute INT UNSIGNED NOT NULL DEFAULT 0,
  state TEXT NOT NULL,
  evaluated_by VARCHAR(64) NULL,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE=InnoDB;

-- Incidents of policies (kind 'policy') and monitors (kind 'down'). Times in Unix seconds.
-- `active` is 1 while open and NULL when closed, so a policy or monitor has at most one open incident.
CREATE TABLE IF NOT EXISTS alert_incidents (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  application_id INT UNSIGNED NOT NULL,
  kind ENUM('policy', 'down') NOT NULL,
  source_id INT UNSIGNED NOT NULL,
  title VARCHAR(255) NOT NULL,
  level ENUM('warning', 'critical') NOT NULL,
  state ENUM('open', 'closed') NOT NULL DEFAULT 'open',
  active TINYINT UNSIGNED NULL DEFAULT 1,
  opened_at INT UNSIGNED NOT NULL,
  updated_at INT UNSIGNED NOT NULL,
  closed_at INT UNSIGNED NULL,
  acknowledged_at INT UNSIGNED NULL,
  acknowledged_by VARCHAR(128) NULL,
  -- transitions so far (open = 1, each level change, the acknowledgement and the close add one): the outbox's seq
  transitions SMALLINT UNSIGNED NOT NULL DEFAULT 1,
  -- JSON: what breached (values per minute, threshold, unit) at opening and at the last transition
  detail TEXT NOT NULL,
  UNIQUE KEY alert_incidents_active (kind, source_id, active),
  KEY alert_incidents_account (account_id, state, id),
  KEY alert_incidents_closed (closed_at)
) ENGINE=InnoDB;

-- The notification outbox: one row per (incident transition, channel), inserted in the same transaction
-- as the transition, so a transition is notified once whichever process delivers it. Delivery claims a
-- row (claimed_until) before sending and retries with backoff (next_attempt_at).
CREATE TABLE IF NOT EXISTS alert_notifications (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  incident_id INT UNSIGNED NOT NULL,
  seq SMALLINT UNSIGNED NOT NULL,
  -- ack: sent to PagerDuty channels only (event_action acknowledge)
  transition ENUM('open', 'level', 'close', 'ack') NOT NULL,
  channel_id INT UNSIGNED NOT NULL,
  state ENUM('pending', 'sent', 'failed') NOT NULL DEFAULT 'pending',
  attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at INT UNSIGNED NOT NULL,
  claimed_until INT UNSIGNED NOT NULL DEFAULT 0,
  claimed_by VARCHAR(64) NULL,
  last_error VARCHAR(512) NULL,
  sent_at INT UNSIGNED NULL,
  UNIQUE KEY alert_notifications_once (incident_id, seq, channel_id),
  KEY alert_notifications_due (state, next_attempt_at)
) ENGINE=InnoDB;

-- Availability monitors: a URL of an application checked by the pinger. Channel ids as JSON array.
CREATE TABLE IF NOT EXISTS monitors (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id INT UNSIGNED NOT NULL,
  application_id INT UNSIGNED NOT NULL,
  name VARCHAR(100) NOT NULL,
  url VARCHAR(2048) NOT NULL,
  interval_seconds SMALLINT UNSIGNED NOT NULL DEFAULT 30,
  timeout_ms INT UNSIGNED NOT NULL DEFAULT 10000,
  expected_status SMALLINT UNSIGNED NOT NULL DEFAULT 200,
  body_contains VARCHAR(255) NULL,
  channels TEXT NOT NULL,
  enabled TINYINT UNSIGNED NOT NULL DEFAULT 1,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY monitors_name (application_id, name)
) ENGINE=InnoDB;

-- Check state of a monitor: when it is next due (Unix seconds), who claimed the check, the failure streak.
CREATE TABLE IF NOT EXISTS monitor_state (
  monitor_id INT UNSIGNED NOT NULL PRIMARY KEY,
  next_check_at INT UNSIGNED NOT NULL DEFAULT 0,
  claimed_until INT UNSIGNED NOT NULL DEFAULT 0,
  claimed_by VARCHAR(64) NULL,
  failures INT UNSIGNED NOT NULL DEFAULT 0,
  last_status VARCHAR(255) NULL,
  last_checked_at INT UNSIGNED NULL,
  KEY monitor_state_due (next_check_at)
) ENGINE=InnoDB;
