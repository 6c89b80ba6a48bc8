-- One row the readiness probe and the start-up check rewrite and commit: proof that a write
-- reaches the database, holding no report data.
CREATE TABLE IF NOT EXISTS dpseg_probe (id INTEGER PRIMARY KEY, at BIGINT NOT NULL);
