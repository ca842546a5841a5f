-- Minute seal (issue #20): application-wide minute rows are derived from the per-agent rows once a minute
-- has closed, instead of being upserted by every harvest. sealed_through (minute tables only): the
-- application pseudo-agent's rows hold every agent's rows for each period < sealed_through (the seal,
-- rollup/minute-seal.ts, wrote them; later writes into those minutes add to them); NULL = no minute sealed.
-- Readers (dashboard/series-sql.ts) read the pseudo-agent's rows below it and sum the agents above it.
ALTER TABLE table_registry ADD COLUMN sealed_through INT UNSIGNED NULL;

-- Minute tables that exist now were written by collectors that upserted the application rows per harvest:
-- they are complete for the whole hour already (and stay so: writers add the application row to every
-- sealed minute). New tables start unsealed (NULL).
UPDATE table_registry SET sealed_through = period_start + 3600 WHERE kind = 'minute';
