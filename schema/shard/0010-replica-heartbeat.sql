-- Replication heartbeat (lib/replica/heartbeat-writer.ts). Adds a table only: template versions are
-- unchanged. One row (id = 1) per shard primary, updated every second by exactly one process (the holder
-- of the named lock <database>.heartbeat on the primary). It replicates like any row, so on a replica
-- lag = the replica's clock - beat_ms (lib/replica/lag-probe.ts); Seconds_Behind_Master is only shown.
CREATE TABLE IF NOT EXISTS replica_heartbeat (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  -- the writer's clock when it wrote (ms since the Unix epoch); 0: never written
  beat_ms BIGINT NOT NULL,
  -- host/pid of the process that wrote it
  writer VARCHAR(128) NOT NULL,
  -- @@server_id of the primary that wrote it
  server_id INT UNSIGNED NOT NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO replica_heartbeat (id, beat_ms, writer, server_id) VALUES (1, 0, '', 0);
