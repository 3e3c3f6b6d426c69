-- Pools: load-balanced names, their members, each node's view of member health, and CIDR → location.
--
-- As in 0001, triggers raise first with a one-line message naming the row ("pool lb.example.test:
-- ttl 0 is outside 1..3600"); the CHECKs stay as the guarantee when triggers are bypassed.
--
-- Pool edits advance config_version and NOTIFY (the nodes reload within a second) but do NOT move the
-- zone's SOA serial. The serial versions the zone's transferable data, and pools are no part of it:
-- `lbdns zone export` leaves them out, their answers change with member health without any edit at
-- all, and no secondary transfers these zones. Bumping it on every drain or weight tweak would only
-- make serials churn for nothing. member_health is not watched at all: it is written by every node
-- after probes, per node, and must never cause a reload.
-- Must run on PostgreSQL 15+ and on PGlite.

-- ---------------------------------------------------------------------------------------------
-- Location checks, shared by pool_members and geo_networks.

-- Why a location is unusable, or null. Country: ISO 3166-1 alpha-2, upper case. Continent: the
-- GeoIP continent codes. Region: an operator-chosen label matched literally by the geo policy, so it
-- is kept to one lower-case form ("eu-west", "fra1"). Coordinates: both or neither.
create function lbdns_location_problem(country text, continent text, region text, latitude double precision, longitude double precision)
returns text
language sql immutable as $$
  select case
    when country is not null and country !~ '^[A-Z]{2}$' then
      format('country "%s" must be two upper-case letters (ISO 3166-1 alpha-2)', country)
    when continent is not null and continent not in ('AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA') then
      format('continent "%s" must be one of AF, AN, AS, EU, NA, OC, SA', continent)
    when region is not null and region !~ '^[a-z0-9][a-z0-9._-]{0,62}$' then
      format('region "%s" must be 1 to 63 lower-case letters, digits, ".", "-" or "_"', region)
    when (latitude is null) <> (longitude is null) then
      'latitude and longitude must be given together'
    when latitude not between -90 and 90 then format('latitude %s is outside -90..90', latitude)
    when longitude not between -180 and 180 then format('longitude %s is outside -180..180', longitude)
  end
$$;

-- ---------------------------------------------------------------------------------------------
-- Tables.

create table pools (
  id serial primary key,
  zone_id integer not null references zones (id) on delete cascade,
  name text not null constraint pools_name_unique unique constraint pools_name_valid check (lbdns_is_domain(name)),
  policy text not null default 'wrr' constraint pools_policy_valid check (policy in ('wrr', 'geo')),
  -- Short by design: a TTL is how long a resolver keeps handing out a member after it went down.
  ttl integer not null default 30 constraint pools_ttl_range check (ttl between 1 and 3600),
  -- Addresses per answer; 64 IPv6 addresses still fit a 1232-octet EDNS payload.
  count integer not null default 2 constraint pools_count_range check (count between 1 and 64),
  -- When no member is up: answer with every enabled member ('open', as Route 53 does) or SERVFAIL.
  all_down text not null default 'open' constraint pools_all_down_valid check (all_down in ('open', 'servfail')),
  check_kind text not null default 'http' constraint pools_check_kind_valid check (check_kind in ('http', 'https', 'tcp')),
  check_port integer not null default 80 constraint pools_check_port_range check (check_port between 1 and 65535),
  -- Printable ASCII without spaces: it goes into the request line as it is.
  check_path text not null default '/' constraint pools_check_path_valid check (check_path ~ '^/[\x21-\x7e]*$'),
  -- The Host header; null: the probed address. No spaces or control characters (header injection).
  check_host text constraint pools_check_host_valid check (check_host ~ '^[A-Za-z0-9._:\[\]-]{1,255}$'),
  expect_status_min integer not null default 200 constraint pools_expect_min_range check (expect_status_min between 100 and 599),
  expect_status_max integer not null default 399 constraint pools_expect_max_range check (expect_status_max between 100 and 599),
  check_insecure boolean not null default false,
  timeout_ms integer not null default 2000 constraint pools_timeout_range check (timeout_ms between 50 and 60000),
  interval_ms integer not null default 5000 constraint pools_interval_range check (interval_ms between 100 and 3600000),
  rise integer not null default 2 constraint pools_rise_range check (rise between 1 and 100),
  fall integer not null default 3 constraint pools_fall_range check (fall between 1 and 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint pools_expect_order check (expect_status_min <= expect_status_max),
  -- A probe still running at the next slot makes the scheduler skip that slot.
  constraint pools_timeout_below_interval check (timeout_ms < interval_ms)
);

create index pools_zone on pools (zone_id);

create table pool_members (
  id serial primary key,
  pool_id integer not null references pools (id) on delete cascade,
  -- The answered address: one host, IPv4 (A queries) or IPv6 (AAAA queries).
  address inet not null constraint pool_members_address_host check (masklen(address) = case family(address) when 4 then 32 else 128 end),
  -- Where probes go instead, e.g. a management interface; null: the address itself.
  probe_address inet constraint pool_members_probe_host check (masklen(probe_address) = case family(probe_address) when 4 then 32 else 128 end),
  -- 0: picked only when no weighted member of the tier is up.
  weight integer not null default 1 constraint pool_members_weight_range check (weight between 0 and 1000000),
  -- Lower tiers first; a higher tier is used only when no member of a lower one is up.
  priority integer not null default 0 constraint pool_members_priority_range check (priority between 0 and 1000),
  -- false: drained (never answered, not probed).
  enabled boolean not null default true,
  country char(2),
  continent text,
  region text,
  latitude double precision,
  longitude double precision,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint pool_members_location_valid check (lbdns_location_problem(country, continent, region, latitude, longitude) is null),
  constraint pool_members_unique unique (pool_id, address)
);

-- One row per member per node: what that node's own probes see. Written by each node (reportHealth),
-- read by `lbdns status`; answers use the node's in-memory state, never this table.
create table member_health (
  member_id integer not null references pool_members (id) on delete cascade,
  -- LBDNS_NODE_NAME of the reporting node.
  node text not null constraint member_health_node_valid check (node ~ '^[\x21-\x7e]{1,255}$'),
  up boolean not null,
  -- When the node's current up/down state began.
  since timestamptz not null,
  last_check timestamptz,
  latency_ms double precision,
  last_error text,
  -- State changes the node has seen for this member since it started tracking it.
  transitions integer not null default 0,
  primary key (member_id, node)
);

-- CIDR → location, consulted before the GeoIP database (private networks, known resolvers).
create table geo_networks (
  id serial primary key,
  network cidr not null constraint geo_networks_network_unique unique,
  country char(2),
  continent text,
  region text,
  latitude double precision,
  longitude double precision,
  note text,
  constraint geo_networks_location_valid check (lbdns_location_problem(country, continent, region, latitude, longitude) is null),
  -- A row that locates nothing would only hide the GeoIP answer.
  constraint geo_networks_says_something check (coalesce(country, continent, region) is not null or latitude is not null)
);

-- ---------------------------------------------------------------------------------------------
-- Pool rules.

-- Why the health-check and answer settings of a pool row are unusable, or null.
create function lbdns_pool_problem(p pools) returns text
language sql immutable as $$
  select case
    when p.policy not in ('wrr', 'geo') then format('policy "%s" must be wrr or geo', p.policy)
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
  end
$$;

create function lbdns_pools_before() returns trigger
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
  -- The pool answers A and AAAA at its name itself; a CNAME there would have to stand alone. The lock
  -- is the one records_before (0001) takes for the name, so a record insert and this check serialise.
  if tg_op = 'INSERT' or (new.name, new.zone_id) <> (old.name, old.zone_id) then
    perform pg_advisory_xact_lock(hashtext('lbdns.records:' || new.zone_id || ':' || new.name));
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

create trigger pools_before before insert or update on pools
  for each row execute function lbdns_pools_before();

-- The counterpart on records: no address record or CNAME at a pool's name. It runs under the per-name
-- lock that records_before already holds (advisory locks are re-entrant: no second lock table entry,
-- which matters when an import inserts thousands of rows in one transaction).
create function lbdns_records_not_at_pool() returns trigger
language plpgsql as $$
begin
  if new.type in ('A', 'AAAA', 'CNAME') then
    perform pg_advisory_xact_lock(hashtext('lbdns.records:' || new.zone_id || ':' || new.name));
    if exists (select 1 from pools where zone_id = new.zone_id and name = new.name) then
      raise exception using errcode = 'exclusion_violation',
        message = format('record %s: name is a pool, which cannot also hold %s records', new.name, new.type);
    end if;
  end if;
  return new;
end $$;

-- Named to fire after records_before (triggers fire in name order), which validates the name first.
create trigger records_not_at_pool before insert or update on records
  for each row execute function lbdns_records_not_at_pool();

-- 0001 stops a zone from being renamed under its records; pools hang off its name the same way.
create function lbdns_zones_keep_pools() returns trigger
language plpgsql as $$
begin
  if new.name <> old.name and exists (select 1 from pools where zone_id = old.id) then
    raise exception using errcode = 'check_violation',
      message = format('zone %s: cannot be renamed while it has pools', old.name);
  end if;
  return new;
end $$;

create trigger zones_keep_pools before update on zones
  for each row execute function lbdns_zones_keep_pools();

-- ---------------------------------------------------------------------------------------------
-- Member and geo network rules.

-- "192.0.2.1" for a host address, the CIDR text otherwise: how a row is named in messages.
create function lbdns_inet_text(a inet) returns text
language sql immutable as $$
  select case when masklen(a) = case family(a) when 4 then 32 else 128 end then host(a) else a::text end
$$;

create function lbdns_pool_members_before() returns trigger
language plpgsql as $$
declare
  pool text;
  what text;
  problem text;
begin
  select name into pool from pools where id = new.pool_id;
  if pool is null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('member %s: pool id %s does not exist', lbdns_inet_text(new.address), new.pool_id);
  end if;
  what := format('member %s of pool %s', lbdns_inet_text(new.address), pool);
  problem := case
    when masklen(new.address) <> case family(new.address) when 4 then 32 else 128 end then
      'address must be one host address, not a network'
    when masklen(new.probe_address) <> case family(new.probe_address) when 4 then 32 else 128 end then
      format('probe address %s must be one host address, not a network', new.probe_address)
    when new.weight not between 0 and 1000000 then format('weight %s is outside 0..1000000', new.weight)
    when new.priority not between 0 and 1000 then format('priority %s is outside 0..1000', new.priority)
    else lbdns_location_problem(new.country, new.continent, new.region, new.latitude, new.longitude)
  end;
  if problem is not null then
    raise exception using errcode = 'check_violation', message = format('%s: %s', what, problem);
  end if;
  if tg_op = 'UPDATE' then new.updated_at := now(); end if;
  return new;
end $$;

create trigger pool_members_before before insert or update on pool_members
  for each row execute function lbdns_pool_members_before();

create function lbdns_geo_networks_before() returns trigger
language plpgsql as $$
declare
  problem text;
begin
  problem := lbdns_location_problem(new.country, new.continent, new.region, new.latitude, new.longitude);
  if problem is null and coalesce(new.country, new.continent, new.region) is null and new.latitude is null then
    problem := 'give at least a country, continent, region or coordinates';
  end if;
  if problem is not null then
    raise exception using errcode = 'check_violation', message = format('geo network %s: %s', new.network, problem);
  end if;
  return new;
end $$;

create trigger geo_networks_before before insert or update on geo_networks
  for each row execute function lbdns_geo_networks_before();

-- ---------------------------------------------------------------------------------------------
-- Config version and change notifications.

-- As in 0001, plus members, which name their zone through their pool. A member deleted by the
-- cascade of its pool's deletion finds no pool any more and names no zone; the change still counts.
create or replace function lbdns_row_zone(tbl text, r jsonb) returns text
language plpgsql stable as $$
begin
  if tbl = 'zones' then return r ->> 'name'; end if;
  if tbl = 'pool_members' then
    return (select z.name from pools p join zones z on z.id = p.zone_id where p.id = (r ->> 'pool_id')::int);
  end if;
  if r ? 'zone_id' then return (select name from zones where id = (r ->> 'zone_id')::int); end if;
  return null;
end $$;

select lbdns_watch_table('pools');
select lbdns_watch_table('pool_members');
select lbdns_watch_table('geo_networks');
