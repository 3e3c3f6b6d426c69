-- Every record type: the types of src/store/rows.ts RECORD_TYPES beside the RFC 1035-era ones, and RFC 3597
-- "TYPEnnn" with generic content "\# length hex" for any other data type.
--
-- As in 0001, plain SQL must not store what the server could not serve: the canonical content forms that
-- src/records/ writes (native-types.ts, svcb.ts, loc.ts, generic.ts) are checked here by lbdns_content_problem
-- (the records_content_valid CHECK and records_before), the type list by lbdns_is_record_type. The checks are
-- of the canonical text; the finer wire rules (e.g. a NAPTR regexp's delimiters) are the codecs' own, and a row
-- they refuse is skipped by the snapshot build and reported, as any bad row is.
-- Must run on PostgreSQL 15+ and on PGlite.

-- ---------------------------------------------------------------------------------------------
-- Types.

create function lbdns_record_types() returns text[]
language sql immutable as $$
  select array['A', 'AAAA', 'CNAME', 'NS', 'MX', 'TXT', 'SRV', 'CAA', 'PTR',
               'DNAME', 'HINFO', 'RP', 'NAPTR', 'LOC', 'URI', 'CERT', 'SSHFP', 'DS', 'CDS', 'DNSKEY', 'CDNSKEY',
               'TLSA', 'SMIMEA', 'OPENPGPKEY', 'SVCB', 'HTTPS']
$$;

-- A stored type: a mnemonic above, or TYPEnnn (no leading zero) of a data type that has no mnemonic above.
-- Not data: 0, SOA (the zone's own row), OPT, and 128..255 (TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY; RFC 6895).
create function lbdns_is_record_type(t text) returns boolean
language sql immutable as $$
  select t is not null and (
    t = any (lbdns_record_types())
    or (t ~ '^TYPE[1-9][0-9]{0,4}$'
        and substr(t, 5)::int <= 65535
        and substr(t, 5)::int not between 128 and 255
        and substr(t, 5)::int not in (1, 2, 5, 6, 12, 13, 15, 16, 17, 28, 29, 33, 35, 37, 39, 41, 43, 44, 48, 52, 53,
                                      59, 60, 61, 64, 65, 256, 257)))
$$;

alter table records drop constraint records_type_valid;
alter table records add constraint records_type_valid check (lbdns_is_record_type(type));

-- ---------------------------------------------------------------------------------------------
-- Content of the new types, in the canonical forms src/records/ writes.

create function lbdns_is_target(n text) returns boolean
language sql immutable as $$ select n = '.' or lbdns_is_domain(n) $$;

create function lbdns_is_hex(t text) returns boolean
language sql immutable as $$ select t ~ '^([0-9a-f]{2})+$' $$;

-- RFC 4648 section 4, padded, at least one octet.
create function lbdns_is_base64(t text) returns boolean
language sql immutable as $$ select t ~ '^[A-Za-z0-9+/]+={0,2}$' and length(t) % 4 = 0 $$;

-- Digest lengths by type: DS (RFC 4509, 5933, 6605), SSHFP (RFC 4255, 6594), TLSA/SMIMEA (RFC 6698).
create function lbdns_digest_problem(what text, kind text, hex text) returns text
language sql immutable as $$
  select case when want is not null and length(hex) <> 2 * want
              then format('%s of type %s must be %s octets, not %s', what, kind, want, length(hex) / 2) end
  from (select case
    when what = 'DS digest' then (array[20, 32, 32, 48])[kind::int]
    when what = 'SSHFP fingerprint' then (array[20, 32])[kind::int]
    when what = 'TLSA data' then (array[32, 64])[kind::int]
  end as want) w
$$;

-- A LOC size in its canonical text ("30m", "0.50m"): one digit times a power of ten centimetres (RFC 1876).
create function lbdns_is_loc_size(t text) returns boolean
language sql immutable as $$
  select t ~ '^(0|[1-9][0-9]{0,7})(\.[0-9]{2})?m$'
     and (replace(rtrim(t, 'm'), '.', '')::bigint * case when position('.' in t) > 0 then 1 else 100 end)::text ~ '^([1-9]0*|0)$'
$$;

-- Why `content` is not the canonical SVCB/HTTPS content (RFC 9460), or null.
create function lbdns_svcb_problem(type text, content text) returns text
language plpgsql immutable as $$
declare
  f text[];
  param text;
  k text;
  v text;
  key int;
  last int := -1;
  keys int[] := '{}';
  mandatory int[] := '{}';
  item text;
begin
  f := regexp_match(content, '^([0-9]+) (\S+)((?: \S+)*)$');
  if f is null or not lbdns_is_uint(f[1], 65535) or not lbdns_is_target(f[2]) then
    return format('%s content "%s" is not "priority target [params]" (0..65535, a lower-case name)', type, content);
  end if;
  foreach param in array coalesce(string_to_array(nullif(ltrim(f[3]), ''), ' '), '{}') loop
    k := split_part(param, '=', 1);
    v := case when position('=' in param) > 0 then substr(param, length(k) + 2) end;
    key := case k when 'mandatory' then 0 when 'alpn' then 1 when 'no-default-alpn' then 2 when 'port' then 3
                  when 'ipv4hint' then 4 when 'ech' then 5 when 'ipv6hint' then 6
                  else case when k ~ '^key[1-9][0-9]{0,4}$' and substr(k, 4)::int between 7 and 65534 then substr(k, 4)::int end end;
    if key is null then return format('%s SvcParam "%s" is not a canonical key', type, param); end if;
    -- RFC 9460 section 2.2: keys in strictly increasing order, each once.
    if key <= last then return format('%s SvcParams must be in increasing key order, each once', type); end if;
    last := key;
    keys := keys || key;
    if key in (0, 1, 3, 4, 5, 6) and coalesce(v, '') = '' then return format('%s SvcParam %s needs a value', type, k); end if;
    if key = 2 and v is not null then return format('%s SvcParam no-default-alpn takes no value', type); end if;
    if key = 0 then
      foreach item in array string_to_array(v, ',') loop
        mandatory := mandatory || case item when 'alpn' then 1 when 'no-default-alpn' then 2 when 'port' then 3
          when 'ipv4hint' then 4 when 'ech' then 5 when 'ipv6hint' then 6
          else case when item ~ '^key[1-9][0-9]{0,4}$' and substr(item, 4)::int between 7 and 65534 then substr(item, 4)::int else -1 end end;
      end loop;
      if -1 = any (mandatory) or exists (select 1 from unnest(mandatory) with ordinality a(x, i)
                                          join unnest(mandatory) with ordinality b(y, j) on j = i + 1 where y <= x) then
        return format('%s mandatory "%s" must list other keys, in increasing order', type, v);
      end if;
    elsif key = 3 and not lbdns_is_uint(v, 65535) then
      return format('%s port "%s" is not 0..65535', type, v);
    elsif key = 4 and v !~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(,((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))*$' then
      return format('%s ipv4hint "%s" is not a list of IPv4 addresses', type, v);
    elsif key = 5 and not lbdns_is_base64(v) then
      return format('%s ech is not base64', type);
    elsif key = 6 then
      foreach item in array string_to_array(v, ',') loop
        if lbdns_ipv6_canonical(item) is distinct from item then
          return format('%s ipv6hint "%s" is not a list of canonical IPv6 addresses', type, v);
        end if;
      end loop;
    end if;
  end loop;
  -- RFC 9460 section 8: every mandatory key is present; section 7.1.1: no-default-alpn only beside alpn.
  if not mandatory <@ keys then return format('%s lists a mandatory key it does not hold', type); end if;
  if 2 = any (keys) and not 1 = any (keys) then return format('%s holds no-default-alpn without alpn', type); end if;
  return null;
end $$;

-- Why `content` is not the canonical content of a `type` record of the types this migration adds, or null.
create function lbdns_more_content_problem(type text, content text) returns text
language plpgsql immutable as $$
declare
  f text[];
  p record;
  q record;
  r record;
  lat bigint;
  lon bigint;
begin
  case
  when type = 'DNAME' then
    if not lbdns_is_domain(content) then
      return format('DNAME target "%s" is not a lower-case domain name without a trailing dot', content);
    end if;
  when type = 'HINFO' then
    f := regexp_match(content, '^"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$');
    if f is null then return 'HINFO content must be two quoted strings, "cpu" "os"'; end if;
    p := lbdns_quoted_problem(f[1]);
    q := lbdns_quoted_problem(f[2]);
    if coalesce(p.problem, q.problem) is not null then return 'HINFO string ' || coalesce(p.problem, q.problem); end if;
    if greatest(p.octets, q.octets) > 255 then return 'HINFO string exceeds 255 octets'; end if;
  when type = 'RP' then
    f := regexp_match(content, '^(\S+) (\S+)$');
    if f is null or not lbdns_is_target(f[1]) or not lbdns_is_target(f[2]) then
      return format('RP content "%s" is not "mailbox-name text-name" (lower-case names)', content);
    end if;
  when type = 'NAPTR' then
    f := regexp_match(content, '^([0-9]+) ([0-9]+) "([A-Za-z0-9]*)" "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 65535) or not lbdns_is_uint(f[2], 65535) or not lbdns_is_target(f[6]) then
      return format('NAPTR content "%s" is not ''order preference "flags" "services" "regexp" replacement''', content);
    end if;
    p := lbdns_quoted_problem(f[4]);
    q := lbdns_quoted_problem(f[5]);
    if coalesce(p.problem, q.problem) is not null then return 'NAPTR string ' || coalesce(p.problem, q.problem); end if;
    if greatest(p.octets, q.octets) > 255 then return 'NAPTR string exceeds 255 octets'; end if;
  when type = 'URI' then
    f := regexp_match(content, '^([0-9]+) ([0-9]+) "((?:[^"\\]|\\.)+)"$');
    if f is null or not lbdns_is_uint(f[1], 65535) or not lbdns_is_uint(f[2], 65535) then
      return format('URI content "%s" is not ''priority weight "target"'' with a non-empty target', content);
    end if;
    p := lbdns_quoted_problem(f[3]);
    if p.problem is not null then return 'URI target ' || p.problem; end if;
  when type in ('TLSA', 'SMIMEA') then
    f := regexp_match(content, '^([0-9]+) ([0-9]+) ([0-9]+) (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 255) or not lbdns_is_uint(f[2], 255) or not lbdns_is_uint(f[3], 255)
       or not lbdns_is_hex(f[4]) then
      return format('%s content "%s" is not "usage selector matching-type hex" (0..255, lower-case hex)', type, content);
    end if;
    return lbdns_digest_problem('TLSA data', f[3], f[4]);
  when type = 'SSHFP' then
    f := regexp_match(content, '^([0-9]+) ([0-9]+) (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 255) or not lbdns_is_uint(f[2], 255) or not lbdns_is_hex(f[3]) then
      return format('SSHFP content "%s" is not "algorithm fp-type hex" (0..255, lower-case hex)', content);
    end if;
    return lbdns_digest_problem('SSHFP fingerprint', f[2], f[3]);
  when type in ('DS', 'CDS') then
    f := regexp_match(content, '^([0-9]+) ([0-9]+) ([0-9]+) (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 65535) or not lbdns_is_uint(f[2], 255) or not lbdns_is_uint(f[3], 255)
       or not lbdns_is_hex(f[4]) then
      return format('%s content "%s" is not "key-tag algorithm digest-type hex" (numbers, lower-case hex)', type, content);
    end if;
    return lbdns_digest_problem('DS digest', f[3], f[4]);
  when type in ('DNSKEY', 'CDNSKEY') then
    -- RFC 4034 section 2.1.2: the protocol is 3.
    f := regexp_match(content, '^([0-9]+) 3 ([0-9]+) (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 65535) or not lbdns_is_uint(f[2], 255) or not lbdns_is_base64(f[3]) then
      return format('%s content "%s" is not "flags 3 algorithm base64-key"', type, content);
    end if;
  when type = 'CERT' then
    f := regexp_match(content, '^([0-9]+) ([0-9]+) ([0-9]+) (\S+)$');
    if f is null or not lbdns_is_uint(f[1], 65535) or not lbdns_is_uint(f[2], 65535) or not lbdns_is_uint(f[3], 255)
       or not lbdns_is_base64(f[4]) then
      return format('CERT content "%s" is not "type key-tag algorithm base64" (numbers)', content);
    end if;
  when type = 'OPENPGPKEY' then
    if not lbdns_is_base64(content) then return 'OPENPGPKEY content is not base64'; end if;
  when type = 'LOC' then
    f := regexp_match(content, '^([0-9]{1,2}) ([0-9]{1,2}) ([0-9]{1,2})\.([0-9]{3}) ([NS]) ([0-9]{1,3}) ([0-9]{1,2}) ([0-9]{1,2})\.([0-9]{3}) ([EW]) (-?)(0|[1-9][0-9]{0,7})\.([0-9]{2})m (\S+) (\S+) (\S+)$');
    if f is null or f[2]::int > 59 or f[3]::int > 59 or f[7]::int > 59 or f[8]::int > 59 then
      return format('LOC content "%s" is not "d m s.sss N|S d m s.sss E|W alt.xxm size hp vp"', content);
    end if;
    lat := f[1]::bigint * 3600000 + f[2]::bigint * 60000 + f[3]::bigint * 1000 + f[4]::bigint;
    lon := f[6]::bigint * 3600000 + f[7]::bigint * 60000 + f[8]::bigint * 1000 + f[9]::bigint;
    if lat > 90 * 3600000 or lon > 180 * 3600000 then return format('LOC content "%s" is out of range', content); end if;
    -- RFC 1876 section 2: the altitude is stored as centimetres above -100000 m in 32 bits.
    if (f[11] || f[12] || f[13])::bigint not between -10000000 and 4284967295 then
      return format('LOC altitude in "%s" is outside -100000m..42849672.95m', content);
    end if;
    if not (lbdns_is_loc_size(f[14]) and lbdns_is_loc_size(f[15]) and lbdns_is_loc_size(f[16])) then
      return format('LOC sizes in "%s" must each be one digit times a power of ten centimetres', content);
    end if;
  when type in ('SVCB', 'HTTPS') then
    return lbdns_svcb_problem(type, content);
  when lbdns_is_record_type(type) and type like 'TYPE%' then
    -- RFC 3597 section 5: "\# 0", or "\# length hex" with one lower-case hex word of that many octets.
    f := regexp_match(content, '^\\# (0|[1-9][0-9]{0,4})(?: ([0-9a-f]+))?$');
    if f is null or f[1]::int > 65535 or coalesce(length(f[2]), 0) <> 2 * f[1]::int then
      return format('%s content "%s" is not RFC 3597 generic text "\# length hex" with that many octets', type, content);
    end if;
  else
    return format('record type "%s" is not supported', type);
  end case;
  return null;
end $$;

-- ---------------------------------------------------------------------------------------------
-- 0001's content check, its dispatch now ending in lbdns_more_content_problem (the other types word for word).

create or replace function lbdns_content_problem(type text, content text) returns text
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
    return lbdns_more_content_problem(type, content);
  end case;
  return null;
end $$;

-- ---------------------------------------------------------------------------------------------
-- 0003's records_before, with the type list above and RFC 6672's one DNAME per name (under the same zone lock).

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
  if not lbdns_is_record_type(new.type) then
    raise exception using errcode = 'check_violation',
      message = format('record %s: type "%s" is not one of %s, or TYPEnnn of a data type (RFC 3597)', new.name,
                       coalesce(new.type, ''), array_to_string(lbdns_record_types(), ', '));
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
  -- RFC 6672 section 2.4: at most one DNAME at a name (several would make synthesis ambiguous).
  if new.type = 'DNAME' and exists (select 1 from records where zone_id = new.zone_id and name = new.name
                                     and type = 'DNAME' and id is distinct from new.id) then
    raise exception using errcode = 'exclusion_violation',
      message = format('record %s: a name holds at most one DNAME', new.name);
  end if;
  return new;
end $$;
