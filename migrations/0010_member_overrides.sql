-- Member overrides with a reason and an expiry (issue 13 part 5): `lbdns member set POOL ADDR --force down|up|drain`.
--
-- An override lives on the member row, so it travels with the member into the snapshot (and the snapshot file a
-- node restarts from while PostgreSQL is down), and an edit NOTIFYs like any member edit. Expiry is a time, not a
-- job: every node judges "still in force?" from its own clock against override_until (src/pools/overrides.ts), so
-- an expired override stops counting at its minute even with the database away, and nothing has to delete it.
--   down:  out of answers whatever the probes say (fail-open included): it is broken, do not send anyone.
--   drain: out of answers the same way, probes go on: planned work, the member itself is fine.
--   up:    answerable whatever its probes say (a checker that is wrong, not the member): status warns.
-- Who: override_by is the CLI's operating-system user when the CLI sets it, else the database role (current_user)
-- of whoever changed the override in SQL; override_at is when it was set (the database's clock). Both are written
-- by the trigger below, never taken from the statement.
-- Must run on PostgreSQL 15+ and on PGlite.

alter table pool_members
  add column override text constraint pool_members_override_valid check (override in ('down', 'up', 'drain')),
  add column override_reason text constraint pool_members_override_reason_valid
    check (length(override_reason) between 1 and 200 and override_reason !~ '[\x00-\x1f\x7f]'),
  add column override_by text constraint pool_members_override_by_valid check (length(override_by) between 1 and 200),
  add column override_at timestamptz,
  add column override_until timestamptz,
  -- An override says why; no reason, expiry or author is left behind without one.
  add constraint pool_members_override_complete check (
    case when override is null then coalesce(override_reason, override_by) is null and override_at is null and override_until is null
    else override_reason is not null and override_by is not null and override_at is not null end);

-- Fills in who and when, and names the member in the one-line error. Who: the lbdns.actor setting of the writing
-- transaction (the CLI sets it, local to its transaction, to the operating-system user), else the database role.
create function lbdns_pool_members_override() returns trigger
language plpgsql as $$
begin
  if new.override is null then
    new.override_reason := null;
    new.override_by := null;
    new.override_at := null;
    new.override_until := null;
    return new;
  end if;
  if new.override_reason is null or length(new.override_reason) = 0 then
    raise exception using errcode = 'check_violation',
      message = format('member %s: an override needs a reason', lbdns_inet_text(new.address));
  end if;
  if tg_op = 'INSERT' or (new.override, new.override_reason, new.override_until) is distinct from (old.override, old.override_reason, old.override_until) then
    new.override_at := now();
    new.override_by := coalesce(nullif(current_setting('lbdns.actor', true), ''), current_user);
  end if;
  return new;
end $$;

create trigger pool_members_override before insert or update on pool_members
  for each row execute function lbdns_pool_members_override();
