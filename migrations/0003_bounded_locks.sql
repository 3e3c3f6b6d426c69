-- Bounded locking for bulk writes: the name checks lock the zone's row, not one advisory lock per name.
--
-- 0001 (records_before) and 0002 (pools_before, records_not_at_pool) made the CNAME rules and the
-- pool/address-record rule hold under concurrent writers with pg_advisory_xact_lock on a hash of
-- (zone, name). Every distinct key is an entry in the server's shared lock table until commit, and that
-- table has max_locks_per_transaction (64) × max_connections slots for everybody: one transaction
-- writing ~15,000 names (an import, an INSERT … SELECT generate_series) failed with "out of shared
-- memory" (measured on PostgreSQL 15 with the defaults).
--
-- Choice: before it checks a name, a writer locks the row of the zone the name is in
-- (SELECT … FOR NO KEY UPDATE). A row lock lives in the row (its xmax), not in the lock table, so a
-- transaction takes no lock table entry for it however many rows it writes; the zones it touches are
-- the only thing that grows. It is the lock the serial bump has always taken on the same row at the
-- end of every record statement, so record writers of one zone already waited for each other's commit:
-- taking it before the check instead of after adds no waiting between them. New is that pool inserts
-- and renames take it too (pools do not move the serial), so they queue behind other writers of the
-- zone; edits of pool settings and of members do not take it. Every writing statement, of any zone,
-- already ends by updating the single config_version row (lbdns_bump_version) and holds it until
-- commit, so writers were serialised anyway; the zone lock only makes the second writer of a zone wait
-- before its check rather than after it.
-- Not chosen: hashing (zone, name) into N advisory keys. That bounds a transaction at N lock table
-- entries, but they still come out of the shared table (64 per connection on average), so N must stay
-- small and unrelated names then share keys anyway; with writers serialised as above it buys nothing.
--
-- Every row asks for the lock again, in the query that reads the zone's name anyway. Once the
-- transaction holds it, PostgreSQL finds its own lock in the row's header and returns at once (measured:
-- no slower than remembering the locked zones in a SET LOCAL setting and skipping the request).
--
-- Bulk statements, measured with INSERT … SELECT generate_series (100,000 records in one zone, 10,000
-- pools of 8 members, one transaction), spent about a fifth of their time in two per-row costs, both
-- removed here:
-- - the serial bump ran one UPDATE of zones per row (each also firing the zones statement triggers);
--   it becomes statement-level (transition tables, like the version triggers of 0001): one UPDATE per
--   statement. Serial semantics are unchanged: one step per zone per transaction (serial_xact).
-- - lbdns_bump_version looked up the zone of every changed row; it now groups the rows by the columns
--   lbdns_row_zone reads (lbdns_row_zone_key) and looks each group up once.
--
-- Error messages are those of 0001 and 0002, word for word. Must run on PostgreSQL 15+ and on PGlite.

-- ---------------------------------------------------------------------------------------------
-- Record rules: as in 0001 and 0002, the per-name advisory lock replaced by the zone lock.

create or replace function lbdns_records_before() returns trigger
language plpgsql as $$
declare
  apex text;
  problem text;
  other text;
begin
  if new.name is null or not lbdns_is_owner(new.name) then
    raise exception using errcode = 'check_violation',
      message = format('record "%s": name must be a lower-case domain name without a trailing dot', coalesce(new.name, ''));
  end if;
  -- The zone lock (see the header): held until the end of the transaction, so that a writer of the
  -- same zone waits here until this transaction ends and then sees what it wrote.
  select name into apex from zones where id = new.zone_id for no key update;
  if apex is null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('record %s: zone id %s does not exist', new.name, new.zone_id);
  end if;
  if new.name <> apex and right(new.name, length(apex) + 1) <> '.' || apex then
    raise exception using errcode = 'check_violation',
      message = format('record %s: name is not inside zone %s', new.name, apex);
  end if;
  if new.type is null or new.type not in ('A', 'AAAA', 'CNAME', 'NS', 'MX', 'TXT', 'SRV', 'CAA', 'PTR') then
    raise exception using errcode = 'check_violation',
      message = format('record %s: type "%s" is not one of A, AAAA, CNAME, NS, MX, TXT, SRV, CAA, PTR', new.name, coalesce(new.type, ''));
  end if;
  if new.ttl is not null and new.ttl < 0 then
    raise exception using errcode = 'check_violation',
      message = format('record %s: ttl %s is negative', new.name, new.ttl);
  end if;
  problem := lbdns_content_problem(new.type, new.content);
  if problem is not null then
    raise exception using errcode = 'check_violation', message = format('record %s: %s', new.name, problem);
  end if;
  -- RFC 1034 section 3.6.2 and RFC 2181 section 10.1: a CNAME is alone at its name, and not at an apex
  -- (which always holds SOA and NS). The zone lock taken above makes the check hold under concurrency.
  if new.type = 'CNAME' and new.name = apex then
    raise exception using errcode = 'check_violation',
      message = format('record %s: CNAME is not allowed at the zone apex', new.name);
  end if;
  select type into other from records
   where zone_id = new.zone_id and name = new.name and id is distinct from new.id
     and (new.type = 'CNAME' or type = 'CNAME')
   order by type = 'CNAME' desc
   limit 1;
  if other = 'CNAME' and new.type = 'CNAME' then
    raise exception using errcode = 'exclusion_violation',
      message = format('record %s: a name holds at most one CNAME', new.name);
  elsif other is not null then
    raise exception using errcode = 'exclusion_violation',
      message = format('record %s: CNAME cannot coexist with other data', new.name);
  end if;
  return new;
end $$;

-- The counterpart on records: no address record or CNAME at a pool's name. It runs under the zone lock
-- that records_before has taken for this very row (it fires first: triggers fire in name order).
create or replace function lbdns_records_not_at_pool() returns trigger
language plpgsql as $$
begin
  if new.type in ('A', 'AAAA', 'CNAME') then
    if exists (select 1 from pools where zone_id = new.zone_id and name = new.name) then
      raise exception using errcode = 'exclusion_violation',
        message = format('record %s: name is a pool, which cannot also hold %s records', new.name, new.type);
    end if;
  end if;
  return new;
end $$;

-- ---------------------------------------------------------------------------------------------
-- Pool rules: as in 0002, the per-name advisory lock replaced by the zone lock.

create or replace function lbdns_pools_before() returns trigger
language plpgsql as $$
declare
  apex text;
  problem text;
  held text;
begin
  if new.name is null or not lbdns_is_domain(new.name) then
    raise exception using errcode = 'check_violation',
      message = format('pool "%s": name must be a lower-case domain name without a trailing dot', coalesce(new.name, ''));
  end if;
  select name into apex from zones where id = new.zone_id;
  if apex is null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('pool %s: zone id %s does not exist', new.name, new.zone_id);
  end if;
  if new.name <> apex and right(new.name, length(apex) + 1) <> '.' || apex then
    raise exception using errcode = 'check_violation',
      message = format('pool %s: name is not inside zone %s', new.name, apex);
  end if;
  problem := lbdns_pool_problem(new);
  if problem is not null then
    raise exception using errcode = 'check_violation', message = format('pool %s: %s', new.name, problem);
  end if;
  -- The pool answers A and AAAA at its name itself; a CNAME there would have to stand alone. The zone
  -- lock is the one records_before takes, so a record write and this check serialise.
  if tg_op = 'INSERT' or (new.name, new.zone_id) <> (old.name, old.zone_id) then
    perform from zones where id = new.zone_id for no key update;
    select string_agg(distinct type, '/' order by type) into held from records
     where zone_id = new.zone_id and name = new.name and type in ('A', 'AAAA', 'CNAME');
    if held is not null then
      raise exception using errcode = 'exclusion_violation',
        message = format('pool %s: name already holds %s records', new.name, held);
    end if;
  end if;
  if tg_op = 'UPDATE' then new.updated_at := now(); end if;
  return new;
end $$;

-- ---------------------------------------------------------------------------------------------
-- Serial: once per statement instead of once per row.

-- Moves the serial of each zone whose records changed, once per transaction (see serial_xact).
-- Statement-level: reads the transition tables new_rows and old_rows.
create or replace function lbdns_records_bump_serial() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    update zones set serial = lbdns_next_serial(serial), serial_xact = txid_current()
     where id in (select zone_id from new_rows) and serial_xact is distinct from txid_current();
  elsif tg_op = 'UPDATE' then
    update zones set serial = lbdns_next_serial(serial), serial_xact = txid_current()
     where id in (select zone_id from new_rows union select zone_id from old_rows)
       and serial_xact is distinct from txid_current();
  elsif tg_op = 'DELETE' then
    update zones set serial = lbdns_next_serial(serial), serial_xact = txid_current()
     where id in (select zone_id from old_rows) and serial_xact is distinct from txid_current();
  end if;
  return null;
end $$;

drop trigger records_bump_serial on records;

-- Named to fire before the records_version_* triggers (same event and level: name order), so that the
-- notification of the zones' new serials still comes before the one of the records, as it did when
-- the row-level trigger fired ahead of every statement-level one.
create trigger records_bump_serial_ins after insert on records referencing new table as new_rows
  for each statement execute function lbdns_records_bump_serial();
create trigger records_bump_serial_upd after update on records referencing new table as new_rows old table as old_rows
  for each statement execute function lbdns_records_bump_serial();
create trigger records_bump_serial_del after delete on records referencing old table as old_rows
  for each statement execute function lbdns_records_bump_serial();

-- ---------------------------------------------------------------------------------------------
-- Config version: one zone lookup per zone, not per row.

-- The part of a changed row that lbdns_row_zone reads. Rows with the same key name the same zone, so
-- lbdns_bump_version looks each key up once instead of looking up every row (100,000 lookups for an
-- INSERT … SELECT of 100,000 records). A migration that teaches lbdns_row_zone a new table must teach
-- this function too; a table it does not know keeps the whole row as its key, which is always right and
-- costs one lookup per row, as before. STABLE, not IMMUTABLE: jsonb_build_object is stable, and a
-- function declared stricter than its body is not inlined into the query that calls it.
create function lbdns_row_zone_key(tbl text, r jsonb) returns jsonb
language sql stable as $$
  select case
    when tbl = 'zones' then jsonb_build_object('name', r -> 'name')
    when tbl = 'pool_members' then jsonb_build_object('pool_id', r -> 'pool_id')
    when r ? 'zone_id' then jsonb_build_object('zone_id', r -> 'zone_id')
    else r
  end
$$;

-- As in 0001, with the rows grouped by lbdns_row_zone_key before their zones are looked up. OFFSET 0
-- keeps each row's to_jsonb a single call (without it the planner copies the expression into every
-- use of the key function's argument).
create or replace function lbdns_bump_version() returns trigger
language plpgsql as $$
declare
  v bigint;
  zone_names text[];
  changed bigint := 0;
begin
  if tg_op = 'INSERT' then
    select coalesce(sum(n), 0), array_agg(distinct lbdns_row_zone(tg_table_name, k)) into changed, zone_names from (
      select lbdns_row_zone_key(tg_table_name, j) as k, count(*) as n from (select to_jsonb(r) as j from new_rows r offset 0) r group by 1) s;
  elsif tg_op = 'UPDATE' then
    select coalesce(sum(n), 0), array_agg(distinct lbdns_row_zone(tg_table_name, k)) into changed, zone_names from (
      select k, count(*) as n from (
        select lbdns_row_zone_key(tg_table_name, j) as k from (
          select to_jsonb(r) as j from new_rows r
          union all
          select to_jsonb(r) from old_rows r
          offset 0) r) u
      group by k) s;
  elsif tg_op = 'DELETE' then
    select coalesce(sum(n), 0), array_agg(distinct lbdns_row_zone(tg_table_name, k)) into changed, zone_names from (
      select lbdns_row_zone_key(tg_table_name, j) as k, count(*) as n from (select to_jsonb(r) as j from old_rows r offset 0) r group by 1) s;
  else
    changed := 1; -- TRUNCATE: rows unknown
  end if;
  if changed = 0 then return null; end if;
  update config_version set version = version + 1, xact = txid_current()
   where xact is distinct from txid_current()
   returning version into v;
  if v is null then select version into v from config_version; end if;
  perform pg_notify('lbdns_changes', json_build_object(
    'table', tg_table_name,
    'zone', case when array_length(zone_names, 1) = 1 then zone_names[1] end,
    'version', v)::text);
  return null;
end $$;
