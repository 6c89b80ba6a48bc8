-- Aggregate counters and recent nonces. Nothing here can single out a device: no addresses,
-- user agents, timestamps finer than an epoch, or individual reports.
CREATE TABLE IF NOT EXISTS counters (
    campaign  TEXT   NOT NULL,
    config_id TEXT   NOT NULL,
    epoch     BIGINT NOT NULL,
    key       TEXT   NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (campaign, config_id, epoch, key)
);
COMMENT ON TABLE counters IS 'one row per counter of a campaign configuration''s epoch (dpseg::estimate::Tally)';
COMMENT ON COLUMN counters.campaign IS 'campaign id';
COMMENT ON COLUMN counters.config_id IS 'campaign content hash the reports were made for';
COMMENT ON COLUMN counters.epoch IS 'epoch number: floor(unix seconds / epoch length)';
COMMENT ON COLUMN counters.key IS 'counter name: reports, n:<item> or y:<item>:<value>';
COMMENT ON COLUMN counters.value IS 'sum over accepted reports; only ever incremented';

CREATE TABLE IF NOT EXISTS nonces (
    campaign TEXT   NOT NULL,
    nonce    BYTEA  NOT NULL,
    epoch    BIGINT NOT NULL,
    PRIMARY KEY (campaign, nonce)
);
-- No index on epoch: every insert would update a second random-keyed B-tree; pruning (every
-- ten minutes) scans the table instead.
COMMENT ON TABLE nonces IS 'nonces of accepted reports, so a retried upload counts once; pruned after the acceptance window';
COMMENT ON COLUMN nonces.campaign IS 'campaign id';
COMMENT ON COLUMN nonces.nonce IS 'the report''s 16 random bytes';
COMMENT ON COLUMN nonces.epoch IS 'the report''s epoch, for pruning';
