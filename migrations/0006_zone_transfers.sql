-- Zone transfers out: TSIG keys, who may transfer each zone, whom to NOTIFY, and the pool-set fingerprint
-- that moves the serial when a pool's answerable set changes (issue 14 parts 3 and 4).
--
-- Transfer settings live on zones: they are read when a transfer or NOTIFY happens, never by the answer
-- path, and changing them moves no serial (zones_before only bumps on SOA fields). The key secrets stay
-- here and are never copied into the snapshot (nor its file on disk).
-- Must run on PostgreSQL 15+ and on PGlite.

create table tsig_keys (
  -- RFC 8945 section 4.2: the key name is a domain name; kept canonical (lower case, no trailing dot).
  name text primary key constraint tsig_keys_name_valid check (lbdns_is_domain(name) and name <> ''),
  algorithm text not null default 'hmac-sha256'
    constraint tsig_keys_algorithm_valid check (algorithm in ('hmac-sha256', 'hmac-sha512', 'hmac-sha1')),
  -- Base64 of at least 16 octets (RFC 8945 section 6: a key as long as the hash output is advised).
  secret text not null constraint tsig_keys_secret_valid check (secret ~ '^[A-Za-z0-9+/]+={0,2}$' and length(secret) >= 24),
  created_at timestamptz not null default now()
);

alter table zones
  -- Networks allowed to transfer without a key; empty (the default): none.
  add column allow_transfer cidr[] not null default '{}',
  -- Keys that may transfer from any address; a request signed with one of them is always allowed.
  add column transfer_keys text[] not null default '{}',
  -- Secondaries to NOTIFY after every serial change: "address:port" or "[v6]:port".
  add column also_notify text[] not null default '{}'
    constraint zones_also_notify_valid check (array_to_string(also_notify, ' ') ~ '^(((\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:.]+\]):\d{1,5}( |$))*$'),
  -- The last pool answerable-set fingerprint a node wrote with a serial bump: two nodes that see the same
  -- change write the same fingerprint, and the guarded UPDATE bumps the serial once.
  add column pool_fingerprint text,
  -- That set itself, one "name ttl TYPE address" line per record: the next bump journals the difference.
  add column pool_set text[] not null default '{}';

-- ---------------------------------------------------------------------------------------------
-- IXFR journal (RFC 1995): one step per serial change, with the records removed and added in it.
--
-- A step is written by a trigger when the serial moves, so every way of moving it (record edits, SOA
-- edits, pool-set bumps, plain SQL) leaves one; the record triggers attach their changes to the step of
-- their own transaction (records_bump_serial_*, which fire before records_zz_journal_*, made it). A zone
-- keeps its last 50 steps; a client further behind gets the whole zone (RFC 1995 section 4).

create table zone_journal (
  id bigserial primary key,
  zone_id integer not null references zones (id) on delete cascade,
  serial_from bigint not null,
  serial_to bigint not null,
  xact bigint not null,
  created_at timestamptz not null default now()
);
create index zone_journal_zone on zone_journal (zone_id, id);

create table zone_journal_changes (
  journal_id bigint not null references zone_journal (id) on delete cascade,
  op text not null constraint zone_journal_changes_op check (op in ('del', 'add')),
  name text not null,
  type text not null,
  -- null: the zone's default TTL.
  ttl integer,
  content text not null
);
create index zone_journal_changes_step on zone_journal_changes (journal_id);

-- BEFORE, and named after zones_before so that it sees the serial that trigger settled on: an AFTER trigger
-- fired by records_bump_serial's UPDATE would run only after records_zz_journal needed the step.
create function lbdns_zones_journal() returns trigger
language plpgsql as $$
begin
  if new.serial is distinct from old.serial then
    insert into zone_journal (zone_id, serial_from, serial_to, xact) values (new.id, old.serial, new.serial, txid_current());
    delete from zone_journal where zone_id = new.id
       and id <= (select id from zone_journal where zone_id = new.id order by id desc offset 50 limit 1);
  end if;
  return new;
end $$;

create trigger zones_journal before update on zones
  for each row execute function lbdns_zones_journal();

-- Statement-level, as records_bump_serial_* (0003) are, and named after them so that the step exists.
create function lbdns_records_journal() returns trigger
language plpgsql as $$
begin
  if tg_op in ('DELETE', 'UPDATE') then
    insert into zone_journal_changes (journal_id, op, name, type, ttl, content)
    select s.id, 'del', o.name, o.type, o.ttl, o.content
      from old_rows o
      join (select distinct on (zone_id) zone_id, id from zone_journal where xact = txid_current() order by zone_id, id desc) s
        on s.zone_id = o.zone_id;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into zone_journal_changes (journal_id, op, name, type, ttl, content)
    select s.id, 'add', n.name, n.type, n.ttl, n.content
      from new_rows n
      join (select distinct on (zone_id) zone_id, id from zone_journal where xact = txid_current() order by zone_id, id desc) s
        on s.zone_id = n.zone_id;
  end if;
  return null;
end $$;

create index zone_journal_xact on zone_journal (xact);
create trigger records_zz_journal_ins after insert on records referencing new table as new_rows
  for each statement execute function lbdns_records_journal();
create trigger records_zz_journal_upd after update on records referencing new table as new_rows old table as old_rows
  for each statement execute function lbdns_records_journal();
create trigger records_zz_journal_del after delete on records referencing old table as old_rows
  for each statement execute function lbdns_records_journal();

-- A key that a zone names cannot be removed (it would silently open or close the zone's transfers).
create function lbdns_tsig_keys_before_delete() returns trigger
language plpgsql as $$
declare
  user_zone text;
begin
  select name into user_zone from zones where old.name = any (transfer_keys) order by name limit 1;
  if user_zone is not null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('tsig key %s is used by zone %s', old.name, user_zone);
  end if;
  return old;
end $$;

create trigger tsig_keys_before_delete before delete on tsig_keys
  for each row execute function lbdns_tsig_keys_before_delete();

-- A zone may only name keys that exist.
create function lbdns_zones_transfer_keys() returns trigger
language plpgsql as $$
declare
  missing text;
begin
  select k into missing from unnest(new.transfer_keys) k where not exists (select 1 from tsig_keys t where t.name = k) limit 1;
  if missing is not null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('zone %s: tsig key %s does not exist', new.name, missing);
  end if;
  return new;
end $$;

create trigger zones_transfer_keys before insert or update of transfer_keys on zones
  for each row execute function lbdns_zones_transfer_keys();
