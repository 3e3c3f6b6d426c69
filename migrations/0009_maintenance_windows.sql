-- Maintenance windows on a schedule (issue 13 part 6): `lbdns maintenance add POOL ADDR --cron … --duration … --reason …`.
--
-- A window is a definition, not a job: cron expression (node-cron syntax, 5 fields or 6 with seconds), duration and
-- IANA time zone. Every node reads it into its snapshot and computes "open now? until when? next?" from its own
-- clock (src/pools/maintenance.ts), so both nodes drain and release the member at the same moment with no
-- coordination, and a node started mid-window knows at once. The cron syntax is node-cron's, which SQL cannot check:
-- the CLI checks it before inserting, and a row that slipped past (plain SQL) is ignored by the nodes, never fatal.
-- Changes NOTIFY like every edit; lbdns_row_zone does not know this table, so they cause a full reload (windows are
-- edited seldom; teaching it would cost a join per changed row for nothing).
-- Must run on PostgreSQL 15+ and on PGlite.

create table maintenance_windows (
  id serial primary key,
  member_id integer not null references pool_members (id) on delete cascade,
  cron text not null constraint maintenance_windows_cron_valid check (cron ~ '^[0-9A-Za-z*/,#?LW -]{9,200}$'),
  -- At most a week: a longer drain is a standing override (`member set --force drain`).
  duration_s integer not null constraint maintenance_windows_duration_range check (duration_s between 1 and 604800),
  -- null: UTC.
  tz text constraint maintenance_windows_tz_valid check (tz ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$'),
  reason text not null constraint maintenance_windows_reason_valid check (length(reason) between 1 and 200 and reason !~ '[\x00-\x1f\x7f]'),
  -- As override_by (0010_member_overrides.sql): the CLI's operating-system user, else the database role.
  created_by text not null default current_user,
  created_at timestamptz not null default now()
);

create index maintenance_windows_member on maintenance_windows (member_id);

create function lbdns_maintenance_windows_before() returns trigger
language plpgsql as $$
begin
  new.created_by := coalesce(nullif(current_setting('lbdns.actor', true), ''), current_user);
  new.created_at := now();
  return new;
end $$;

create trigger maintenance_windows_before before insert on maintenance_windows
  for each row execute function lbdns_maintenance_windows_before();

select lbdns_watch_table('maintenance_windows');
