-- Migrations are recorded by sqlx (`_sqlx_migrations`, with checksums) from this version on.
-- The first two create their tables only if missing, so a database the earlier hand-written
-- runner migrated takes them as no-ops; its own record of them is dropped here.
DROP TABLE IF EXISTS dpseg_migrations;
