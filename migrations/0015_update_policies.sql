-- RFC 2136 dynamic updates: which names and types each TSIG key may change, per zone.
--
-- A key with no rule for a zone changes nothing in it. A rule names one zone, one name pattern and the types
-- allowed there (or ANY); src/store/update-pattern.ts reads the patterns, docs/dynamic-updates.md explains them:
--   www.example.test          that name only
--   *.example.test            any name below example.test (not example.test itself)
--   _acme-challenge.*         any name of the zone whose first label is _acme-challenge
--   *                         any name of the zone
-- Patterns are stored as given (canonical: lower case, no trailing dot) and must lie inside their zone. SOA is never
-- a type a rule can allow (the zone's own row), and the apex NS set is refused whatever the rule says
-- (src/store/update-queries.ts). Rules are read only by the UPDATE path, never by answers: changing one moves no
-- serial and NOTIFYs nobody.
-- Must run on PostgreSQL 15+.

-- Whether `pattern` is a rule pattern inside the zone `apex` (the same test as src/store/update-pattern.ts).
create function lbdns_update_pattern_problem(pattern text, apex text) returns text
language sql immutable as $$
  select case
    when pattern is null then 'name pattern is missing'
    when pattern = '*' then null
    when pattern ~ '^[a-z0-9_-]{1,63}\.\*$' then null
    when left(pattern, 2) = '*.' and lbdns_is_domain(substr(pattern, 3))
      and (substr(pattern, 3) = apex or right(substr(pattern, 3), length(apex) + 1) = '.' || apex) then null
    when left(pattern, 2) = '*.' and lbdns_is_domain(substr(pattern, 3)) then format('name pattern %s is not inside zone %s', pattern, apex)
    when lbdns_is_owner(pattern) and (pattern = apex or right(pattern, length(apex) + 1) = '.' || apex) then null
    when lbdns_is_owner(pattern) then format('name pattern %s is not inside zone %s', pattern, apex)
    else format('name pattern "%s" must be a name, *.NAME, LABEL.* or *', pattern)
  end
$$;

-- Whether every element of `types` is a stored type spelling or ANY (a CHECK cannot hold a subquery).
create function lbdns_update_types_valid(types text[]) returns boolean
language sql immutable as $$
  select cardinality(types) between 1 and 64 and array_position(types, null) is null
     and (select bool_and(t = 'ANY' or lbdns_is_record_type(t)) from unnest(types) t)
$$;

create table update_policies (
  id serial primary key,
  -- Refused while rules name the key (the trigger below says so in one line); a zone's rules go with the zone.
  key_name text not null references tsig_keys (name) on delete restrict,
  zone_id integer not null references zones (id) on delete cascade,
  pattern text not null,
  -- Stored type spellings (lbdns_is_record_type), or ANY for every type.
  types text[] not null constraint update_policies_types_valid check (lbdns_update_types_valid(types)),
  created_at timestamptz not null default now(),
  constraint update_policies_unique unique (key_name, zone_id, pattern)
);

create index update_policies_zone on update_policies (zone_id);

-- The pattern checked against its zone, with the problem in one line.
create function lbdns_update_policies_before() returns trigger
language plpgsql as $$
declare
  apex text;
  problem text;
begin
  select name into apex from zones where id = new.zone_id;
  if apex is null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('update rule: zone id %s does not exist', new.zone_id);
  end if;
  problem := lbdns_update_pattern_problem(new.pattern, apex);
  if problem is not null then
    raise exception using errcode = 'check_violation', message = problem;
  end if;
  return new;
end $$;

create trigger update_policies_before before insert or update on update_policies
  for each row execute function lbdns_update_policies_before();

-- A key that update rules name cannot be removed; the message says how to remove the rules.
create function lbdns_tsig_keys_update_rules() returns trigger
language plpgsql as $$
declare
  rule_zone text;
begin
  select z.name into rule_zone from update_policies p join zones z on z.id = p.zone_id
   where p.key_name = old.name order by z.name limit 1;
  if rule_zone is not null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('tsig key %s may update zone %s (lbdns tsig deny-update %s first)', old.name, rule_zone, old.name);
  end if;
  return old;
end $$;

create trigger tsig_keys_update_rules before delete on tsig_keys
  for each row execute function lbdns_tsig_keys_update_rules();
