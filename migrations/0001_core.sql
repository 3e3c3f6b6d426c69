-- Core schema: zones, records, the config version counter and the change notifications.
--
-- Plain SQL edits must not be able to store what the server could not serve, so every rule the CLI
-- applies is repeated here: the content canonical forms of src/records/content.ts (CHECK through
-- lbdns_check_content), names in canonical form (src/store/rows.ts), owners inside their zone and the
-- CNAME rules (triggers). Triggers raise first with a one-line message naming the record; the CHECKs
-- stay as the guarantee when triggers are bypassed (session_replication_role = replica).
-- Must run on PostgreSQL 15+ and on PGlite (PostgreSQL 18 in WebAssembly, plpgsql included).

-- ---------------------------------------------------------------------------------------------
-- Name and content checks (all IMMUTABLE: they depend on their arguments only).

-- A canonical domain name: lower case, no trailing dot, labels of letters, digits, "-" and "_"
-- (RFC 2782 owners need "_"), 1..63 octets each, at most 253 characters (255 octets on the wire).
create function lbdns_is_domain(n text) returns boolean
language sql immutable as $$
  select n is not null
     and length(n) <= 253
     and n ~ '^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$'
$$;

-- A record owner: a domain name, optionally with "*" as its leftmost label (RFC 4592 wildcard).
create function lbdns_is_owner(n text) returns boolean
language sql immutable as $$
  select lbdns_is_domain(n) or (left(n, 2) = '*.' and length(n) <= 253 and lbdns_is_domain(substr(n, 3)))
$$;

-- A decimal number without leading zeros in 0..max.
create function lbdns_is_uint(t text, max bigint) returns boolean
language sql immutable as $$
  select case when t ~ '^(0|[1-9][0-9]{0,9})$' then t::bigint <= max else false end
$$;

-- RFC 5952 text of an IPv6 address, with an embedded IPv4 written in hex ("::ffff:c000:201") as
-- src/records/ip-address.ts does; PostgreSQL's host() would print "::ffff:192.0.2.1" instead.
create function lbdns_ipv6_canonical(t text) returns text
language plpgsql immutable as $$
declare
  a text;
  head text[];
  tail text[];
  g text[];
  q int[];
  best_start int := 0;
  best_len int := 1;
  i int;
  j int;
begin
  if t is null or position(':' in t) = 0 or position('/' in t) > 0 then return null; end if;
  begin
    if family(t::inet) <> 6 then return null; end if;
    a := host(t::inet);
  exception when others then
    return null;
  end;
  if position('.' in a) > 0 then
    q := string_to_array(regexp_replace(a, '^.*:', ''), '.')::int[];
    a := regexp_replace(a, '[^:]*$', '') || to_hex(q[1] * 256 + q[2]) || ':' || to_hex(q[3] * 256 + q[4]);
  end if;
  if position('::' in a) > 0 then
    head := case when split_part(a, '::', 1) = '' then '{}'::text[] else string_to_array(split_part(a, '::', 1), ':') end;
    tail := case when split_part(a, '::', 2) = '' then '{}'::text[] else string_to_array(split_part(a, '::', 2), ':') end;
    g := head || array_fill('0'::text, array[8 - coalesce(array_length(head, 1), 0) - coalesce(array_length(tail, 1), 0)]) || tail;
  else
    g := string_to_array(a, ':');
  end if;
  -- RFC 5952 section 4.2: shorten the longest run of two or more zero groups, the first on a tie.
  i := 1;
  while i <= 8 loop
    if g[i] <> '0' then
      i := i + 1;
    else
      j := i;
      while j <= 8 and g[j] = '0' loop j := j + 1; end loop;
      if j - i > best_len then best_start := i; best_len := j - i; end if;
      i := j;
    end if;
  end loop;
  if best_start = 0 then return array_to_string(g, ':'); end if;
  return array_to_string(g[1:best_start - 1], ':') || '::' || array_to_string(g[best_start + best_len:8], ':');
end $$;

-- Why `body` (the inside of one canonical quoted string) is not canonical, or null. Canonical as
-- src/records/character-string.ts quoteBytes writes it: printable ASCII as itself, `"` and `\`
-- escaped with `\`, every other octet as \DDD. Returns the octet count through `octets`.
create function lbdns_quoted_problem(body text, out problem text, out octets int)
language plpgsql immutable as $$
declare
  m text[];
begin
  if body !~ '^([\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]|\\[0-9]{3})*$' then
    problem := 'holds a character that must be escaped, or a bad escape';
    return;
  end if;
  for m in select regexp_matches(body, '\\(["\\]|[0-9]{3})', 'g') loop
    if m[1] ~ '^[0-9]' and (m[1]::int > 255 or m[1]::int between 32 and 126) then
      problem := format('has the escape \%s, which is not canonical', m[1]);
      return;
    end if;
  end loop;
  octets := length(regexp_replace(body, '\\(["\\]|[0-9]{3})', 'x', 'g'));
end $$;

-- Why `content` is not the canonical content of a `type` record, or null when it is.
create function lbdns_content_problem(type text, content text) returns text
language plpgsql immutable as $$
declare
  f text[];
  s text[];
  p record;
  total int := 0;
begin
  if content is null then return 'content is missing'; end if;
  case type
  when 'A' then
    -- The regex alone is strict (no leading zeros, each octet <= 255); the cast double-checks it.
    if content !~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$' then
      return format('A content "%s" is not an IPv4 address in dotted-quad form', content);
    elsif family(content::inet) <> 4 then
      return format('A content "%s" is not an IPv4 address', content);
    end if;
  when 'AAAA' then
    if lbdns_ipv6_canonical(content) is null then
      return format('AAAA content "%s" is not an IPv6 address', content);
    elsif content <> lbdns_ipv6_canonical(content) then
      return format('AAAA content "%s" is not in canonical form (%s)', content, lbdns_ipv6_canonical(content));
    end if;
  when 'CNAME', 'NS', 'PTR' then
    if not lbdns_is_domain(content) then
      return format('%s target "%s" is not a lower-case domain name without a trailing dot', type, content);
    end if;
  when 'MX' then
    f := regexp_match(content, '^([0-9]+) (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 65535) or not (f[2] = '.' or lbdns_is_domain(f[2])) then
      return format('MX content "%s" is not "preference exchange" (0..65535, a lower-case name)', content);
    end if;
  when 'SRV' then
    f := regexp_match(content, '^([0-9]+) ([0-9]+) ([0-9]+) (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 65535) or not lbdns_is_uint(f[2], 65535)
       or not lbdns_is_uint(f[3], 65535) or not (f[4] = '.' or lbdns_is_domain(f[4])) then
      return format('SRV content "%s" is not "priority weight port target" (0..65535, a lower-case name)', content);
    end if;
  when 'TXT' then
    -- One or more quoted strings, one space apart (RFC 1035 section 3.3.14).
    if content !~ '^"([^"\\]|\\.)*"( "([^"\\]|\\.)*")*$' then
      return 'TXT content must be one or more quoted strings separated by one space';
    end if;
    for s in select regexp_matches(content, '"((?:[^"\\]|\\.)*)"', 'g') loop
      p := lbdns_quoted_problem(s[1]);
      if p.problem is not null then return 'TXT string ' || p.problem; end if;
      -- RFC 1035 section 3.3: a <character-string> holds at most 255 octets.
      if p.octets > 255 then return format('TXT string of %s octets exceeds 255', p.octets); end if;
      total := total + p.octets + 1;
    end loop;
    if total > 65535 then return format('TXT record of %s octets exceeds 65535', total); end if;
  when 'CAA' then
    -- RFC 8659 section 4.1.1: flags 0..255, a tag of 1..15 letters and digits, a quoted value.
    f := regexp_match(content, '^([0-9]+) ([a-z0-9]{1,15}) "((?:[^"\\]|\\.)*)"$');
    if f is null or not lbdns_is_uint(f[1], 255) then
      return format('CAA content "%s" is not ''flags tag "value"'' (flags 0..255, a lower-case tag)', content);
    end if;
    p := lbdns_quoted_problem(f[3]);
    if p.problem is not null or f[3] ~ '\\[0-9]' then
      return 'CAA value must be printable ASCII';
    end if;
  else
    return format('record type "%s" is not supported', type);
  end case;
  return null;
end $$;

create function lbdns_check_content(type text, content text) returns boolean
language sql immutable as $$ select lbdns_content_problem(type, content) is null $$;

-- ---------------------------------------------------------------------------------------------
-- Tables.

create table zones (
  id serial primary key,
  name text not null unique constraint zones_name_valid check (lbdns_is_domain(name)),
  mname text not null constraint zones_mname_valid check (lbdns_is_domain(mname)),
  rname text not null constraint zones_rname_valid check (lbdns_is_domain(rname)),
  -- RFC 1035 section 3.3.13: an unsigned 32-bit serial; 0 is avoided so that "unset" is never valid.
  serial bigint not null default 1 constraint zones_serial_range check (serial between 1 and 4294967295),
  -- RFC 2181 section 8: TTL-like values are 0..2^31-1. Defaults follow RIPE-203.
  refresh integer not null default 86400 constraint zones_refresh_range check (refresh between 0 and 2147483647),
  retry integer not null default 7200 constraint zones_retry_range check (retry between 0 and 2147483647),
  expire integer not null default 3600000 constraint zones_expire_range check (expire between 0 and 2147483647),
  minimum integer not null default 3600 constraint zones_minimum_range check (minimum between 0 and 2147483647),
  ttl integer not null default 3600 constraint zones_ttl_range check (ttl between 1 and 2147483647),
  -- The transaction that last moved the serial: one bump per zone per transaction, however many rows change.
  serial_xact bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table records (
  id bigserial primary key,
  zone_id integer not null references zones (id) on delete cascade,
  name text not null constraint records_name_valid check (lbdns_is_owner(name)),
  type text not null constraint records_type_valid check (type in ('A', 'AAAA', 'CNAME', 'NS', 'MX', 'TXT', 'SRV', 'CAA', 'PTR')),
  -- null: the zone's default TTL.
  ttl integer constraint records_ttl_range check (ttl between 0 and 2147483647),
  content text not null constraint records_content_valid check (lbdns_check_content(type, content)),
  constraint records_unique unique (zone_id, name, type, content)
);

create index records_zone_name on records (zone_id, name);

-- The version every committed change advances; pollers compare it when LISTEN is unavailable.
create table config_version (
  id boolean primary key default true constraint config_version_single_row check (id),
  version bigint not null default 1,
  -- The transaction that last advanced it: one step per transaction.
  xact bigint
);
insert into config_version (id, version) values (true, 1);

-- ---------------------------------------------------------------------------------------------
-- Zone rules.

-- SOA serial arithmetic. Choice: serial + 1, wrapping from 4294967295 to 1 (RFC 1982 section 3.1:
-- an increment below 2^31 is "greater"; 0 is skipped because the column keeps 1..2^32-1). A date-
-- based YYYYMMDDnn scheme was not chosen: no secondary transfers these zones, every step is one
-- committed transaction, and a counter keeps the serial independent of the clock.
create function lbdns_next_serial(s bigint) returns bigint
language sql immutable as $$ select case when s >= 4294967295 then 1 else s + 1 end $$;

create function lbdns_zones_before() returns trigger
language plpgsql as $$
begin
  new.name := coalesce(new.name, '');
  if not lbdns_is_domain(new.name) then
    raise exception using errcode = 'check_violation',
      message = format('zone "%s": name must be a lower-case domain name without a trailing dot', new.name);
  end if;
  new.mname := coalesce(new.mname, 'ns1.' || new.name);
  new.rname := coalesce(new.rname, 'hostmaster.' || new.name);
  if not lbdns_is_domain(new.mname) then
    raise exception using errcode = 'check_violation',
      message = format('zone %s: mname "%s" must be a lower-case domain name without a trailing dot', new.name, new.mname);
  end if;
  if not lbdns_is_domain(new.rname) then
    raise exception using errcode = 'check_violation',
      message = format('zone %s: rname "%s" must be a lower-case domain name without a trailing dot', new.name, new.rname);
  end if;
  if new.serial is null or new.serial not between 1 and 4294967295 then
    raise exception using errcode = 'check_violation',
      message = format('zone %s: serial %s is outside 1..4294967295', new.name, coalesce(new.serial::text, 'null'));
  end if;
  if new.refresh < 0 or new.retry < 0 or new.expire < 0 or new.minimum < 0 or new.ttl < 1 then
    raise exception using errcode = 'check_violation',
      message = format('zone %s: refresh, retry, expire and minimum must be 0 or more and ttl 1 or more', new.name);
  end if;
  if tg_op = 'INSERT' then
    new.serial_xact := txid_current();
    return new;
  end if;
  if new.name <> old.name and exists (select 1 from records where zone_id = old.id) then
    raise exception using errcode = 'check_violation',
      message = format('zone %s: cannot be renamed while it has records', old.name);
  end if;
  if new.serial is distinct from old.serial then
    new.serial_xact := txid_current();
  elsif (new.mname, new.rname, new.refresh, new.retry, new.expire, new.minimum, new.ttl)
        is distinct from (old.mname, old.rname, old.refresh, old.retry, old.expire, old.minimum, old.ttl)
        and old.serial_xact is distinct from txid_current() then
    new.serial := lbdns_next_serial(old.serial);
    new.serial_xact := txid_current();
  end if;
  new.updated_at := now();
  return new;
end $$;

create trigger zones_before before insert or update on zones
  for each row execute function lbdns_zones_before();

-- ---------------------------------------------------------------------------------------------
-- Record rules.

create function lbdns_records_before() returns trigger
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
  select name into apex from zones where id = new.zone_id;
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
  -- (which always holds SOA and NS). The per-name advisory lock makes the check hold under concurrency.
  perform pg_advisory_xact_lock(hashtext('lbdns.records:' || new.zone_id || ':' || new.name));
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

create trigger records_before before insert or update on records
  for each row execute function lbdns_records_before();

-- Moves the serial of each zone whose records changed, once per transaction (see serial_xact).
create function lbdns_records_bump_serial() returns trigger
language plpgsql as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    update zones set serial = lbdns_next_serial(serial), serial_xact = txid_current()
     where id = old.zone_id and serial_xact is distinct from txid_current();
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    update zones set serial = lbdns_next_serial(serial), serial_xact = txid_current()
     where id = new.zone_id and serial_xact is distinct from txid_current();
  end if;
  return null;
end $$;

create trigger records_bump_serial after insert or update or delete on records
  for each row execute function lbdns_records_bump_serial();

-- ---------------------------------------------------------------------------------------------
-- Config version and change notifications.

-- The zone a changed row belongs to, or null. Later migrations replace this function when they add
-- tables that hang off a zone some other way (e.g. pool members through their pool).
create function lbdns_row_zone(tbl text, r jsonb) returns text
language plpgsql stable as $$
begin
  if tbl = 'zones' then return r ->> 'name'; end if;
  if r ? 'zone_id' then return (select name from zones where id = (r ->> 'zone_id')::int); end if;
  return null;
end $$;

-- Statement-level: advances config_version once per transaction and NOTIFYs lbdns_changes with
-- {"table", "zone" (the one zone the statement touched, else null), "version"}. NOTIFY is delivered
-- at commit and not at all on rollback; identical payloads of one transaction are folded into one.
-- Generic over tables: attach it with lbdns_watch_table(), which names the transition tables
-- new_rows and old_rows that this function reads.
create function lbdns_bump_version() returns trigger
language plpgsql as $$
declare
  v bigint;
  zone_names text[];
  changed bigint := 0;
begin
  if tg_op = 'INSERT' then
    select count(*), array_agg(distinct lbdns_row_zone(tg_table_name, to_jsonb(n))) into changed, zone_names from new_rows n;
  elsif tg_op = 'UPDATE' then
    select count(*), array_agg(distinct z) into changed, zone_names from (
      select lbdns_row_zone(tg_table_name, to_jsonb(n)) as z from new_rows n
      union all
      select lbdns_row_zone(tg_table_name, to_jsonb(o)) from old_rows o) s;
  elsif tg_op = 'DELETE' then
    select count(*), array_agg(distinct lbdns_row_zone(tg_table_name, to_jsonb(o))) into changed, zone_names from old_rows o;
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

-- Attaches lbdns_bump_version() to a table (one trigger per event: PostgreSQL allows transition
-- tables only on single-event triggers).
create function lbdns_watch_table(tbl regclass) returns void
language plpgsql as $$
declare
  t text := tbl::text;
begin
  execute format('create trigger %I after insert on %s referencing new table as new_rows
                  for each statement execute function lbdns_bump_version()', t || '_version_ins', tbl);
  execute format('create trigger %I after update on %s referencing new table as new_rows old table as old_rows
                  for each statement execute function lbdns_bump_version()', t || '_version_upd', tbl);
  execute format('create trigger %I after delete on %s referencing old table as old_rows
                  for each statement execute function lbdns_bump_version()', t || '_version_del', tbl);
  execute format('create trigger %I after truncate on %s
                  for each statement execute function lbdns_bump_version()', t || '_version_trunc', tbl);
end $$;

select lbdns_watch_table('zones');
select lbdns_watch_table('records');
