-- DNSSEC keys (issue 16 part 1): `lbdns dnssec enable ZONE` stores one combined signing key per zone here, so that
-- both nodes of a pair sign with the same key and the parent's DS stays valid whichever node answers.
--
-- One key per zone for now (flags 257: zone key + SEP, signing everything; src/dnssec/keys.ts says why), algorithm 13
-- (ECDSAP256SHA256) or 15 (ED25519). The private key is stored sealed (AES-256-GCM under a key derived from
-- LBDNS_KEY_SECRET, which never enters the database); the snapshot carries it sealed, and each process that signs
-- opens it with its own secret. A row a process cannot open leaves that zone answered unsigned, never failed.
--
-- A key row is zone data: its changes NOTIFY lbdns_changes naming the zone (lbdns_row_zone finds it through zone_id,
-- as for records) and advance config_version, and adding or removing one moves the zone's serial (the apex DNSKEY,
-- CDS and CDNSKEY sets appear or go), once per transaction as for record edits.
--
-- What a signed zone cannot hold (lbdns_dnssec_problem; the same rule for `dnssec enable`, `record add`, zone
-- imports and plain SQL): RRSIG and NSEC anywhere (the signer makes them for each answer), NSEC3 and NSEC3PARAM
-- anywhere (lbdns denies existence with NSEC; a stored NSEC3 chain would contradict it), DNSKEY, CDS and CDNSKEY at
-- the apex (made from the zone's key; RFC 7344), DS at the apex (a zone's DS lives in its parent, RFC 4035 section
-- 2.4). Enabling refuses a zone holding one and names the first; a signed zone refuses a new one. An advisory lock
-- per zone (exclusive for the key, shared for those record types only) keeps the two checks from racing.
-- Must run on PostgreSQL 15+ and on PGlite.

-- RFC 4034 Appendix B: the key tag of the DNSKEY RDATA flags ‖ 3 ‖ algorithm ‖ public key.
create function lbdns_dnskey_tag(flags integer, algorithm integer, public_key bytea) returns integer
language plpgsql immutable as $$
declare
  rdata bytea := decode(lpad(to_hex(flags), 4, '0') || '03' || lpad(to_hex(algorithm), 2, '0'), 'hex') || public_key;
  ac bigint := 0;
begin
  for i in 0 .. octet_length(rdata) - 1 loop
    ac := ac + case when i % 2 = 0 then get_byte(rdata, i)::bigint << 8 else get_byte(rdata, i) end;
  end loop;
  ac := ac + ((ac >> 16) & 65535);
  return (ac & 65535)::integer;
end $$;

create table dnssec_keys (
  id serial primary key,
  -- One key per zone for now: a rollover (a second key beside the first) will relax this.
  zone_id integer not null references zones (id) on delete cascade constraint dnssec_keys_one_per_zone unique,
  -- RFC 8624 section 3.1: both are MUST for validators.
  algorithm smallint not null constraint dnssec_keys_algorithm_valid check (algorithm in (13, 15)),
  flags integer not null default 257 constraint dnssec_keys_flags_valid check (flags = 257),
  key_tag integer not null constraint dnssec_keys_key_tag_valid check (key_tag = lbdns_dnskey_tag(flags, algorithm, public_key)),
  -- The DNSKEY public key field: P-256 x ‖ y (RFC 6605 section 4), Ed25519 (RFC 8080 section 3).
  public_key bytea not null
    constraint dnssec_keys_public_key_valid check (octet_length(public_key) = case algorithm when 13 then 64 else 32 end),
  -- Sealed: version 1 ‖ salt ‖ check ‖ iv ‖ tag ‖ ciphertext (src/dnssec/keys.ts), at least 54 octets. The version
  -- octet also keeps a bare PKCS#8 key (which starts 0x30) out.
  private_key bytea not null
    constraint dnssec_keys_private_key_sealed check (octet_length(private_key) >= 54 and get_byte(private_key, 0) = 1),
  created_at timestamptz not null default now()
);

-- Why a record of `type` at `name` cannot be in the signed zone `apex`, or null.
create function lbdns_dnssec_problem(apex text, name text, type text) returns text
language sql immutable as $$
  select case
    when type = 'TYPE46' then 'RRSIG records are made by the signer for every answer; a stored one would be served beside them'
    when type = 'TYPE47' then 'NSEC records are made by the signer; a stored one would contradict its denial of existence'
    when type in ('TYPE50', 'TYPE51') then 'lbdns denies existence with NSEC; a stored NSEC3 chain would contradict it'
    when name = apex and type in ('DNSKEY', 'CDS', 'CDNSKEY') then format('the apex %s set is made from the zone''s signing key', type)
    when name = apex and type = 'DS' then 'a zone''s DS belongs in its parent (RFC 4035 section 2.4), not at its own apex'
  end
$$;

-- "TYPE46 (RRSIG)": the stored spelling, with the mnemonic an operator knows.
create function lbdns_dnssec_type_text(type text) returns text
language sql immutable as $$
  select type || coalesce(' (' || case type when 'TYPE46' then 'RRSIG' when 'TYPE47' then 'NSEC' when 'TYPE50' then 'NSEC3'
                                            when 'TYPE51' then 'NSEC3PARAM' end || ')', '')
$$;

-- Types lbdns_dnssec_problem may refuse: the records trigger fires for these only (its WHEN clause), so bulk imports
-- of ordinary records pay nothing.
create function lbdns_dnssec_types() returns text[]
language sql immutable as $$ select array['TYPE46', 'TYPE47', 'TYPE50', 'TYPE51', 'DNSKEY', 'CDS', 'CDNSKEY', 'DS'] $$;

create function lbdns_dnssec_keys_before() returns trigger
language plpgsql as $$
declare
  apex text;
  bad_name text;
  bad_type text;
  why text;
begin
  if tg_op = 'INSERT' then
    new.created_at := now();
  end if;
  if tg_op = 'INSERT' or new.zone_id <> old.zone_id then
    perform pg_advisory_xact_lock(hashtext('lbdns.dnssec'), new.zone_id);
    select name into apex from zones where id = new.zone_id;
    if apex is null then
      raise exception using errcode = 'foreign_key_violation', message = format('dnssec key: zone id %s does not exist', new.zone_id);
    end if;
    select r.name, r.type, lbdns_dnssec_problem(apex, r.name, r.type) into bad_name, bad_type, why
      from records r
     where r.zone_id = new.zone_id and r.type = any (lbdns_dnssec_types()) and lbdns_dnssec_problem(apex, r.name, r.type) is not null
     order by r.name, r.type limit 1;
    if found then
      raise exception using errcode = 'check_violation',
        message = format('zone %s cannot be signed: record %s %s: %s (remove it first)', apex, bad_name, lbdns_dnssec_type_text(bad_type), why);
    end if;
  end if;
  return new;
end $$;

create trigger dnssec_keys_before before insert or update on dnssec_keys
  for each row execute function lbdns_dnssec_keys_before();

-- Moves the serial of the zone whose key came or went, once per transaction (as lbdns_records_bump_serial does). A
-- key deleted with its zone finds no zone row to move.
create function lbdns_dnssec_keys_bump_serial() returns trigger
language plpgsql as $$
begin
  update zones set serial = lbdns_next_serial(serial), serial_xact = txid_current()
   where id = case when tg_op = 'DELETE' then old.zone_id else new.zone_id end
     and serial_xact is distinct from txid_current();
  return null;
end $$;

create trigger dnssec_keys_bump_serial after insert or delete on dnssec_keys
  for each row execute function lbdns_dnssec_keys_bump_serial();

-- Named to fire after records_before (triggers fire in name order), which validates name and type first.
create function lbdns_records_signed_zone() returns trigger
language plpgsql as $$
declare
  apex text;
  why text;
begin
  perform pg_advisory_xact_lock_shared(hashtext('lbdns.dnssec'), new.zone_id);
  if exists (select 1 from dnssec_keys where zone_id = new.zone_id) then
    select name into apex from zones where id = new.zone_id;
    why := lbdns_dnssec_problem(apex, new.name, new.type);
    if why is not null then
      raise exception using errcode = 'check_violation',
        message = format('record %s %s: zone %s is signed: %s', new.name, lbdns_dnssec_type_text(new.type), apex, why);
    end if;
  end if;
  return new;
end $$;

create trigger records_signed_zone before insert or update on records
  for each row when (new.type = any (lbdns_dnssec_types())) execute function lbdns_records_signed_zone();

-- The parent's DS covers the zone's name (RFC 4034 section 5.1.4): a signed zone keeps it.
create function lbdns_zones_keep_dnssec() returns trigger
language plpgsql as $$
begin
  if new.name <> old.name and exists (select 1 from dnssec_keys where zone_id = old.id) then
    raise exception using errcode = 'check_violation',
      message = format('zone %s: cannot be renamed while it is signed (its DS names it)', old.name);
  end if;
  return new;
end $$;

create trigger zones_keep_dnssec before update on zones
  for each row execute function lbdns_zones_keep_dnssec();

select lbdns_watch_table('dnssec_keys');
