-- Aggregate counters and recent nonces. Nothing here can single out a device: no addresses,
-- user agents, timestamps finer than an epoch, or individual reports.

-- One row per counter of a campaign configuration's epoch (see dpseg::estimate::Tally).
CREATE TABLE IF NOT EXISTS counters (
    campaign  TEXT    NOT NULL, -- campaign id
    config_id TEXT    NOT NULL, -- campaign content hash the reports were made for
    epoch     INTEGER NOT NULL, -- epoch number: floor(unix seconds / epoch length)
    key       TEXT    NOT NULL, -- counter name: "reports", "n:<item>" or "y:<item>:<value>"
    value     INTEGER NOT NULL, -- sum over accepted reports; only ever incremented
    PRIMARY KEY (campaign, config_id, epoch, key)
) WITHOUT ROWID;

-- Nonces of accepted reports, so a retried upload is counted once. Pruned once their epoch
-- leaves the acceptance window (a report that old is refused anyway).
CREATE TABLE IF NOT EXISTS nonces (
    campaign TEXT    NOT NULL, -- campaign id
    nonce    BLOB    NOT NULL, -- the report's 16 random bytes
    epoch    INTEGER NOT NULL, -- the report's epoch, for pruning
    PRIMARY KEY (campaign, nonce)
) WITHOUT ROWID;

-- No index on epoch: every insert would update a second random-keyed B-tree; pruning (every
-- ten minutes) scans the table instead.
