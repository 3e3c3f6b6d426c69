-- Update rules (migration 0015) in the audit log (migration 0013): who allowed which key to change what, and revert.
--
-- The audit log names a row by its `name` column (lbdns_audit_name's default), which update_policies lacked: its
-- name pattern becomes that column, so a rule reads as "update_policies _acme-challenge.*" in lbdns history, and
-- the table is audited like every table that configures answers or who may change them.
-- Must run on PostgreSQL 15+.

alter table update_policies rename column pattern to name;

create or replace function lbdns_update_policies_before() returns trigger
language plpgsql as $$
declare
  apex text;
  problem text;
begin
  select z.name into apex from zones z where z.id = new.zone_id;
  if apex is null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('update rule: zone id %s does not exist', new.zone_id);
  end if;
  problem := lbdns_update_pattern_problem(new.name, apex);
  if problem is not null then
    raise exception using errcode = 'check_violation', message = problem;
  end if;
  return new;
end $$;

select lbdns_audit_table('update_policies');
