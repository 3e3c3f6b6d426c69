-- The audit log (migration 0013) for bulk statements: one entry per statement instead of one per row.
--
-- Measured with bench/audit.ts (10,000 records in one statement): writing one audit row per deleted row cost as much as
-- the DELETE itself (+86 ms on 80 ms: each row's to_jsonb, then 10,000 rows of ~300 bytes with their index entries and
-- WAL), and +85 ms on a 400 ms INSERT, +90 ms on a 480 ms UPDATE. Taking the statement's rows with json_agg and
-- writing them as one lz4-compressed value costs 9-11 ms per side.
--
-- So the physical table is now audit_entries, and audit_log is a view over it that reads as before: one row per row
-- changed, with its key, name and images. An entry with bulk_old or bulk_new set holds the raw rows of one statement
-- (JSON arrays as json_agg wrote them: the old rows of a DELETE, the new rows of an INSERT, both for an UPDATE, the i-th
-- of each being one row) and no images of its own; the view expands it, computing each row's key, name and images with
-- the same functions as the per-row path, and leaving out the rows of an UPDATE that changed only the serial or derived
-- columns, as the per-row path does. Readers (lbdns history, the API, lbdns_revert, psql) see no difference, except
-- that the rows of one bulk entry share its id and are told apart by `part` (1, 2, ...; 0 for a per-row entry): order
-- by (id, part). An UPDATE whose every row changed nothing is an entry the view shows no row of.
--
-- Which statements: those of at least lbdns_audit_bulk_rows() rows (64, or the setting lbdns.audit_bulk_rows: SET in a
-- session, ALTER DATABASE ... SET for all; a huge value keeps every row its own entry, at the cost measured above) on a
-- table without secrets (tsig_keys and dnssec_keys keep per-row entries: their images replace the secrets, a raw row
-- would hold them); for an UPDATE, only when no primary key changed (the per-row path pairs those by key). Zones'
-- updates are row-level (migration 0013) and stay so.
-- Writers of the log (the triggers, pruning, tests that age entries) write audit_entries; the view is read-only.
-- Must run on PostgreSQL 15+.

alter table audit_log rename to audit_entries;
alter table audit_entries add column bulk_old json, add column bulk_new json;
alter table audit_entries add constraint audit_entries_bulk_shape check (
  (bulk_old is null and bulk_new is null)
  or (old is null and new is null and row_key = '*' and case op
        when 'insert' then bulk_old is null and json_typeof(bulk_new) = 'array'
        when 'delete' then bulk_new is null and json_typeof(bulk_old) = 'array'
        when 'update' then json_typeof(bulk_old) = 'array' and json_typeof(bulk_new) = 'array'
        else false end));

-- lz4 where the server was built with it (Debian's and the embedded binaries are): several times faster than pglz on
-- a value of a megabyte. A server without it keeps the default.
do $$
begin
  execute 'alter table audit_entries alter column bulk_old set compression lz4, alter column bulk_new set compression lz4';
exception when feature_not_supported or invalid_parameter_value then
  null;
end $$;

create function lbdns_audit_bulk_rows() returns bigint
language sql stable as $$
  select case when s ~ '^[0-9]{1,18}$' then s::bigint else 64 end
    from (select coalesce(current_setting('lbdns.audit_bulk_rows', true), '') as s) t
$$;

create view audit_log as
  select a.id, 0 as part, a.at, a.txid, a.actor, a.application_name, a.table_name, a.op, a.row_key, a.name, a.old, a.new
    from audit_entries a
   where a.bulk_old is null and a.bulk_new is null
  union all
  -- ROWS FROM zips the two arrays (a missing one gives nulls); OFFSET 0 keeps each row's jsonb and images one call each.
  select a.id, e.part::integer, a.at, a.txid, a.actor, a.application_name, a.table_name, a.op,
         lbdns_audit_key(a.table_name, coalesce(e.n, e.o)), lbdns_audit_name(a.table_name, coalesce(e.n, e.o)), e.oi, e.ni
    from audit_entries a
   cross join lateral (
     select z.o, z.n, z.part, lbdns_audit_image(a.table_name, z.o) as oi, lbdns_audit_image(a.table_name, z.n, z.o) as ni
       from (select x.o::jsonb as o, x.n::jsonb as n, x.part
               from rows from (json_array_elements(a.bulk_old), json_array_elements(a.bulk_new)) with ordinality as x(o, n, part)
             offset 0) z
     offset 0) e
   where (a.bulk_old is not null or a.bulk_new is not null)
     and (a.op <> 'update' or e.oi - 'serial' is distinct from e.ni - 'serial');

create or replace function lbdns_audit() returns trigger
language plpgsql as $$
declare
  who text := coalesce(nullif(current_setting('lbdns.actor', true), ''), 'db:' || current_user);
  app text := nullif(current_setting('application_name', true), '');
  tx bigint := txid_current();
  olds jsonb[];
  news jsonb[];
  n bigint;
begin
  if tg_table_name not in ('tsig_keys', 'dnssec_keys') and tg_op <> 'TRUNCATE' then
    -- Each statement names only the transition tables its event has (a trigger's plan may name no other).
    if tg_op = 'DELETE' then
      select count(*) into n from old_rows;
      if n >= lbdns_audit_bulk_rows() then
        insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, bulk_old)
        select tx, who, app, tg_table_name, 'delete', '*', format('%s rows', n), json_agg(r) from old_rows r;
        return null;
      end if;
    elsif tg_op = 'INSERT' then
      select count(*) into n from new_rows;
      if n >= lbdns_audit_bulk_rows() then
        insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, bulk_new)
        select tx, who, app, tg_table_name, 'insert', '*', format('%s rows', n), json_agg(r) from new_rows r;
        return null;
      end if;
    else
      select count(*) into n from new_rows;
      -- Every table here is keyed by id (lbdns_audit_key); the same ids in the same order: the i-th old and new are one row.
      if n >= lbdns_audit_bulk_rows() and array(select r.id from old_rows r) = array(select r.id from new_rows r) then
        insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, bulk_old, bulk_new)
        values (tx, who, app, tg_table_name, 'update', '*', format('%s rows', n),
                (select json_agg(r) from old_rows r), (select json_agg(r) from new_rows r));
        return null;
      end if;
    end if;
  end if;
  -- OFFSET 0 keeps each row's to_jsonb a single call (the planner would copy it into every use otherwise).
  if tg_op = 'INSERT' then
    insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, new)
    select tx, who, app, tg_table_name, 'insert', lbdns_audit_key(tg_table_name, j), lbdns_audit_name(tg_table_name, j),
           lbdns_audit_image(tg_table_name, j)
      from (select to_jsonb(r) as j from new_rows r offset 0) s;
  elsif tg_op = 'DELETE' then
    insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, old)
    select tx, who, app, tg_table_name, 'delete', lbdns_audit_key(tg_table_name, j), lbdns_audit_name(tg_table_name, j),
           lbdns_audit_image(tg_table_name, j)
      from (select to_jsonb(r) as j from old_rows r offset 0) s;
  elsif tg_op = 'UPDATE' then
    -- PostgreSQL appends a row's old and new versions to the two transition tables together, so the i-th of each are
    -- one row: zipped, when every pair has the same key (checked, not assumed). Otherwise (a primary key changed),
    -- paired by key, a key found on one side only being the delete or the insert it is.
    olds := array(select to_jsonb(r) from old_rows r);
    news := array(select to_jsonb(r) from new_rows r);
    if cardinality(olds) = cardinality(news)
       and not exists (select 1 from unnest(olds, news) z(o, n) where lbdns_audit_key(tg_table_name, z.o) is distinct from lbdns_audit_key(tg_table_name, z.n)) then
      insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, old, new)
      select tx, who, app, tg_table_name, 'update', lbdns_audit_key(tg_table_name, p.n), lbdns_audit_name(tg_table_name, p.n), p.oi, p.ni
        from (select z.n, lbdns_audit_image(tg_table_name, z.o) as oi, lbdns_audit_image(tg_table_name, z.n, z.o) as ni
                from unnest(olds, news) z(o, n) offset 0) p
       where p.oi - 'serial' is distinct from p.ni - 'serial';
    else
      insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, old, new)
      select tx, who, app, tg_table_name, case when p.o is null then 'insert' when p.n is null then 'delete' else 'update' end,
             p.k, lbdns_audit_name(tg_table_name, coalesce(p.n, p.o)), p.oi, p.ni
        from (select q.k, q.o, q.n, lbdns_audit_image(tg_table_name, q.o) as oi, lbdns_audit_image(tg_table_name, q.n, q.o) as ni
                from (select u.k, (array_agg(u.j) filter (where u.side = 0))[1] as o, (array_agg(u.j) filter (where u.side = 1))[1] as n
                        from (select lbdns_audit_key(tg_table_name, v.j) as k, v.side, v.j
                                from (select 0 as side, j from unnest(olds) j union all select 1, j from unnest(news) j) v) u
                       group by u.k) q
               offset 0) p
       where p.oi - 'serial' is distinct from p.ni - 'serial';
    end if;
  else
    insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name)
    values (tx, who, app, tg_table_name, 'truncate', '*', 'every row');
  end if;
  return null;
end $$;

create or replace function lbdns_audit_row() returns trigger
language plpgsql as $$
declare
  o jsonb := to_jsonb(old);
  n jsonb := to_jsonb(new);
  who text := coalesce(nullif(current_setting('lbdns.actor', true), ''), 'db:' || current_user);
  app text := nullif(current_setting('application_name', true), '');
begin
  if lbdns_audit_key(tg_table_name, o) <> lbdns_audit_key(tg_table_name, n) then
    -- As lbdns_audit(): a changed primary key is the delete and the insert it is.
    insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, old, new)
    values (txid_current(), who, app, tg_table_name, 'delete', lbdns_audit_key(tg_table_name, o), lbdns_audit_name(tg_table_name, o), lbdns_audit_image(tg_table_name, o), null),
           (txid_current(), who, app, tg_table_name, 'insert', lbdns_audit_key(tg_table_name, n), lbdns_audit_name(tg_table_name, n), null, lbdns_audit_image(tg_table_name, n));
  elsif lbdns_audit_image(tg_table_name, o) - 'serial' is distinct from lbdns_audit_image(tg_table_name, n, o) - 'serial' then
    insert into audit_entries (txid, actor, application_name, table_name, op, row_key, name, old, new)
    values (txid_current(), who, app, tg_table_name, 'update', lbdns_audit_key(tg_table_name, n), lbdns_audit_name(tg_table_name, n),
            lbdns_audit_image(tg_table_name, o), lbdns_audit_image(tg_table_name, n, o));
  end if;
  return null;
end $$;

-- lbdns_revert (migration 0013) reads the view, which is right everywhere but in one place: the highest id in the log,
-- which over the view would expand every bulk entry ever written. That line reads the table; the function is
-- otherwise unchanged (edited in place rather than restated here, so that 0013 stays the one text of it).
do $$
declare
  before text := pg_get_functiondef('lbdns_revert(bigint)'::regprocedure);
  after text := replace(before, 'select coalesce(max(a.id), 0) into start_id from audit_log a;',
                                'select coalesce(max(a.id), 0) into start_id from audit_entries a;');
begin
  if after = before then
    raise exception 'migration 0017: lbdns_revert no longer reads the highest id as migration 0013 wrote it';
  end if;
  execute after;
end $$;
