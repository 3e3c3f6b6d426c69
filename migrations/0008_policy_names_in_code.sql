-- Policy names belong to the policy registry (src/policies/registry.ts), not to the database: a new policy is one file
-- and one registry line, with a migration only for settings of its own. The pool schema (src/schema/pool-schema.ts)
-- refuses a name the build does not know before any SQL runs; a row naming a policy this node lacks (written by a newer
-- node, or by hand) is answered by weight with a warning, as before. Every range check stays, as the database's guard.
-- Must run on PostgreSQL 15+ and on PGlite.

alter table pools drop constraint pools_policy_valid;
alter table pools add constraint pools_policy_named check (policy ~ '^[a-z][a-z0-9-]{0,31}$');

-- As in 0007, without the list of policy names.
create or replace function lbdns_pool_problem(p pools) returns text
language sql immutable as $$
  select case
    when p.policy !~ '^[a-z][a-z0-9-]{0,31}$' then format('policy "%s" must be a policy name', p.policy)
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
    when p.hash_prefix_v4 not between 1 and 32 then format('hash prefix /%s is outside /1../32 for IPv4', p.hash_prefix_v4)
    when p.hash_prefix_v6 not between 1 and 128 then format('hash prefix /%s is outside /1../128 for IPv6', p.hash_prefix_v6)
  end
$$;
