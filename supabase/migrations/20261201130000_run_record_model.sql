-- flexrun run records, schema version 1, continued (docs/run-record.md): the fields the typed model
-- (shared/runs/record.py) has that the first migration kept in `extra`, and the month's cost summed
-- where the rows are. Applied after the earlier migrations.

alter table public.runs add column if not exists args jsonb;
alter table public.runs add column if not exists env jsonb;
alter table public.runs add column if not exists claim_released_at timestamptz;
alter table public.runs add column if not exists skipped_steps jsonb;
alter table public.runs add column if not exists replicas integer check (replicas is null or replicas >= 1);

-- `flexrun cost`: the attempts that ended in [period_start, period_end) and their estimated cost per
-- GPU type, aggregated by PostgreSQL (called as PostgREST's `POST /rpc/run_costs`), so the report does
-- not grow with the history. `stable`: it only reads; `security invoker`: row-level security applies.
create or replace function public.run_costs(period_start timestamptz, period_end timestamptz)
returns table (gpu_type text, attempts bigint, usd double precision)
language sql stable security invoker as $$
    select r.gpu_type, count(*), coalesce(sum(r.estimated_cost_usd), 0)
    from public.runs r
    where r.state_rank = 9 and r.ended_at >= period_start and r.ended_at < period_end
    group by r.gpu_type
    order by r.gpu_type
$$;

revoke all on function public.run_costs(timestamptz, timestamptz) from public;
grant execute on function public.run_costs(timestamptz, timestamptz) to service_role;
