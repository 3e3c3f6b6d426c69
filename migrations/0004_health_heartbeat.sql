-- member_health heartbeat: how fresh each node's row is, now that rows are no longer written on every probe.
--
-- Until now every probe result upserted its row: members ÷ probe interval writes per second per node
-- (80,000 members probed every 5 s: 16,000 row writes a second from each node on the shared database,
-- for a table nothing answers from). A node now writes a member's row when its state changes and
-- otherwise at most every LBDNS_HEALTH_WRITE_INTERVAL seconds (src/health/reporter.ts), so last_check in
-- the row can be that old even though the node probes far more often. heartbeat_at says when the node
-- last wrote the row: at most heartbeat_interval seconds ago (plus a tick) while the node runs and still
-- probes the member. `lbdns status` shows its age and calls a row stale past twice that.
-- heartbeat_at is the database's clock (now() of the writing statement), so the age `lbdns status`
-- shows does not depend on the writing node's clock.
-- Rows written before this migration get the migration's time and no interval (unknown: never stale).
-- Must run on PostgreSQL 15+ and on PGlite.

alter table member_health
  add column heartbeat_at timestamptz not null default now(),
  add column heartbeat_interval double precision
    constraint member_health_heartbeat_interval_positive check (heartbeat_interval > 0);
