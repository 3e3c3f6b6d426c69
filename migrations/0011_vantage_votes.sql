-- Health agreed across vantage points (issue 15): who votes, how a pool counts the votes, and a NOTIFY when a vote moves.
--
-- A vantage point is a serving node or a probe agent (`lbdns probe-agent`). Each one's member_health rows are its
-- votes: a row says what its own probes see of one member. A vote counts while its vantage point is live, that is
-- while the vantage point's heartbeat_at here is younger than 3 × its heartbeat_interval (database clock, so no
-- node's clock is trusted for freshness). A vantage point writes heartbeat_at once per interval (one row, not one
-- per member: the write budget of migrations/0004 holds), and its member_health rows only on a state change or the
-- slow per-member heartbeat; a vantage point that stops probing a member (shared probing moved it) deletes its row.
-- A retired vantage point's votes are ignored; only `lbdns vantage forget` (deleting the row) lets the name vote again.
--
-- NOTIFY lbdns_votes fires when a vote is cast, moves or is withdrawn, never for a heartbeat that changes nothing
-- (migrations/0002 keeps member_health off lbdns_changes for the same reason). Casting and withdrawing are
-- statement-level: one write of 80,000 first results sends ~270 notifications of up to 300 votes each, not 80,000;
-- a vote that moves sends one of its own (see lbdns_vote_moved). Payload: "<vantage> <votes>", votes
-- comma-separated "member:state:ahead" with state 1 (up), 0 (down) or - (withdrawn), ahead = whole seconds the
-- vote's last_check lies past its heartbeat_at, the database's now() when it was written (a clock far ahead is
-- refused by the reader; measured at the write, not at the read, so the same row always says the same).
--
-- Per pool: quorum (how votes decide, src/health/quorum.ts) and probers (how many vantage points probe each member,
-- chosen by rendezvous hashing over the live ones; null: every serving node probes every member, as before).
-- Must run on PostgreSQL 15+ and on PGlite.

create table vantage_points (
  name text primary key constraint vantage_points_name_valid check (name ~ '^[\x21-\x7e]{1,255}$'),
  kind text not null constraint vantage_points_kind_valid check (kind in ('node', 'agent')),
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  heartbeat_interval double precision not null default 2
    constraint vantage_points_heartbeat_interval_range check (heartbeat_interval > 0 and heartbeat_interval <= 3600),
  -- The vantage point's own clock minus the database's at its last heartbeat, in seconds (for `lbdns vantage list`).
  clock_offset double precision,
  retired_at timestamptz,
  retired_by text
);

alter table pools
  add column quorum text not null default 'auto'
    constraint pools_quorum_valid check (quorum in ('auto', 'local', 'any-up', 'majority', 'all-down')),
  add column probers integer constraint pools_probers_range check (probers between 1 and 64);

-- As in 0008, with the quorum rules: a node that does not probe a member has no local view of it.
create or replace function lbdns_pool_problem(p pools) returns text
language sql immutable as $$
  select case
    when p.policy !~ '^[a-z][a-z0-9-]{0,31}$' then format('policy "%s" must be a policy name', p.policy)
    when p.ttl not between 1 and 3600 then format('ttl %s is outside 1..3600', p.ttl)
    when p.count not between 1 and 64 then format('count %s is outside 1..64', p.count)
    when p.all_down not in ('open', 'servfail') then format('all_down "%s" must be open or servfail', p.all_down)
    when p.check_kind not in ('http', 'https', 'tcp') then format('check_kind "%s" must be http, https or tcp', p.check_kind)
    when p.check_port not between 1 and 65535 then format('check_port %s is outside 1..65535', p.check_port)
    when p.check_path !~ '^/[\x21-\x7e]*$' then format('check_path "%s" must start with "/" and hold no spaces', p.check_path)
    when p.check_host !~ '^[A-Za-z0-9._:\[\]-]{1,255}$' then format('check_host "%s" must be a host name or address', p.check_host)
    when p.expect_status_min not between 100 and 599 or p.expect_status_max not between 100 and 599 then
      format('expected status %s-%s is outside 100..599', p.expect_status_min, p.expect_status_max)
    when p.expect_status_min > p.expect_status_max then
      format('expected status %s-%s runs backwards', p.expect_status_min, p.expect_status_max)
    when p.timeout_ms not between 50 and 60000 then format('timeout %s ms is outside 50..60000', p.timeout_ms)
    when p.interval_ms not between 100 and 3600000 then format('interval %s ms is outside 100..3600000', p.interval_ms)
    when p.timeout_ms >= p.interval_ms then
      format('timeout %s ms must be shorter than the interval %s ms', p.timeout_ms, p.interval_ms)
    when p.rise not between 1 and 100 then format('rise %s is outside 1..100', p.rise)
    when p.fall not between 1 and 100 then format('fall %s is outside 1..100', p.fall)
    when p.hash_prefix_v4 not between 1 and 32 then format('hash prefix /%s is outside /1../32 for IPv4', p.hash_prefix_v4)
    when p.hash_prefix_v6 not between 1 and 128 then format('hash prefix /%s is outside /1../128 for IPv6', p.hash_prefix_v6)
    when p.quorum not in ('auto', 'local', 'any-up', 'majority', 'all-down') then
      format('quorum "%s" must be auto, local, any-up, majority or all-down', p.quorum)
    when p.probers not between 1 and 64 then format('probers %s is outside 1..64', p.probers)
    when p.quorum = 'local' and p.probers is not null then
      format('quorum local cannot be met with probers %s: a node that does not probe a member has no local view of it; use majority, any-up or all-down', p.probers)
  end
$$;

-- One NOTIFY per vantage point per 300 votes that moved in a statement. A payload must stay under 8000 bytes: a vote
-- is at most 10 digits of member id, its state, and `ahead` capped at 6 digits (20 bytes with separators), so 300
-- votes and a 255-byte name fit.
create function lbdns_notify_votes(changed jsonb) returns void
language plpgsql as $$
declare
  line text;
begin
  for line in
    select v.node || ' ' || string_agg(v.member_id || ':' || v.state || ':' || v.ahead, ',' order by v.member_id)
      from (select c.node, c.member_id, c.state, c.ahead,
                   (row_number() over (partition by c.node order by c.member_id) - 1) / 300 as part
              from jsonb_to_recordset(changed) as c(node text, member_id integer, state text, ahead integer)) v
     group by v.node, v.part
  loop
    perform pg_notify('lbdns_votes', line);
  end loop;
end
$$;

create function lbdns_votes_inserted() returns trigger
language plpgsql as $$
begin
  perform lbdns_notify_votes((
    select jsonb_agg(jsonb_build_object('node', n.node, 'member_id', n.member_id, 'state', case when n.up then '1' else '0' end,
             'ahead', least(999999, greatest(0, coalesce(floor(extract(epoch from n.last_check - n.heartbeat_at)), 0)))::integer))
      from new_rows n));
  return null;
end
$$;

-- A vote that moves: row-level, and only for rows whose state changed (the WHEN clause is checked without calling
-- the function), so a heartbeat statement rewriting thousands of unchanged rows costs nothing here. A statement-level
-- trigger would have to join the old and new transition tables, which carry no statistics: planned as a nested loop,
-- one 5,000-row heartbeat took seconds. State changes are few (a member going down), one short NOTIFY each.
create function lbdns_vote_moved() returns trigger
language plpgsql as $$
begin
  perform pg_notify('lbdns_votes', new.node || ' ' || new.member_id || ':' || case when new.up then '1' else '0' end || ':' ||
    least(999999, greatest(0, coalesce(floor(extract(epoch from new.last_check - new.heartbeat_at)), 0)))::integer);
  return null;
end
$$;

create function lbdns_votes_deleted() returns trigger
language plpgsql as $$
begin
  perform lbdns_notify_votes((
    select jsonb_agg(jsonb_build_object('node', o.node, 'member_id', o.member_id, 'state', '-', 'ahead', 0)) from old_rows o));
  return null;
end
$$;

create trigger member_health_votes_inserted after insert on member_health
  referencing new table as new_rows for each statement execute function lbdns_votes_inserted();
create trigger member_health_votes_updated after update on member_health
  for each row when (old.up is distinct from new.up) execute function lbdns_vote_moved();
create trigger member_health_votes_deleted after delete on member_health
  referencing old table as old_rows for each statement execute function lbdns_votes_deleted();
