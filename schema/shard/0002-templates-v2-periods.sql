-- Template v2: hourly and daily rows record how many minute (hour) periods contributed, so a partial
-- period is visible. Minute tables gain nothing (v2 is v1's definition). v1 tables keep their columns.
CREATE TABLE IF NOT EXISTS template_minute_v2 LIKE template_minute_v1;

CREATE TABLE IF NOT EXISTS template_hour_v2 LIKE template_hour_v1;

ALTER TABLE template_hour_v2 ADD COLUMN periods INT UNSIGNED NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS template_day_v2 LIKE template_day_v1;

ALTER TABLE template_day_v2 ADD COLUMN periods INT UNSIGNED NOT NULL DEFAULT 0;
