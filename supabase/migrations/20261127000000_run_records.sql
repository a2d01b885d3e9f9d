-- flexrun run records, schema version 1 (docs/run-record.md). Applied by `supabase db push` in
-- production and by local/postgres.py onto the local PostgreSQL.
--
-- One row per (run_key, attempt). The columns mirror the MongoDB documents field for field, so both
-- stores read back the same record; anything a newer writer adds that this version does not know
-- lands in `extra`.

create table if not exists public.runs (
    run_key             text        not null check (run_key ~ '^[a-z0-9_-]{1,63}$'),
    attempt             integer     not null check (attempt >= 1),
    schema_version      integer     not null default 1,
    correlation_id      text,
    -- the job
    job_name            text,
    job_id              text,
    vertex_state        text,
    -- what ran, where
    package_version     text,
    package_sha256      text        check (package_sha256 is null or package_sha256 ~ '^[0-9a-f]{64}$'),
    package_uri         text,
    gpu_type            text,
    gpu_count           integer     check (gpu_count is null or gpu_count between 1 and 16),
    machine_type        text,
    region              text,
    strategy            text,
    -- the capacity fallback chain (shared/fallback.py): every step is an attempt of the same run_key
    chain               jsonb,
    step_label          text,
    previous_attempt    integer,
    next_attempt        integer,
    fallback_reason     text,
    fallback_error      text,
    executor_image      text,
    max_wait_seconds    integer     check (max_wait_seconds is null or max_wait_seconds >= 0),
    timeout_seconds     integer     check (timeout_seconds is null or timeout_seconds >= 1),
    output_uri          text,
    -- who asked
    requested_by        text,
    reason              text,
    trigger             text,
    published_at        timestamptz,
    -- the state machine (docs/run-record.md): state only moves to a higher rank
    state               text        not null default 'requested' check (
        state in ('requested', 'queued', 'pending', 'running', 'succeeded', 'failed', 'cancelled', 'expired')
    ),
    state_rank          integer     not null default 0 check (state_rank between 0 and 9),
    requested_at        timestamptz not null default now(),
    queued_at           timestamptz,
    pending_at          timestamptz,
    running_at          timestamptz,
    succeeded_at        timestamptz,
    failed_at           timestamptz,
    cancelled_at        timestamptz,
    expired_at          timestamptz,
    updated_at          timestamptz,
    -- Vertex's own clock
    created_at          timestamptz,
    started_at          timestamptz,
    ended_at            timestamptz,
    wait_seconds        double precision,
    run_seconds         double precision,
    -- cost from the GPU catalog
    usd_per_gpu_hour    double precision,
    estimated_cost_usd  double precision,
    total_cost_usd      double precision,
    -- the trainer's outputs
    outputs_complete    boolean,
    outputs_error       text,
    metrics             jsonb,
    metrics_summary     jsonb,
    artifacts           jsonb,
    plot_uri            text,
    predictions_uri     text,
    model_uri           text,
    prediction_count    integer,
    -- failure
    error               jsonb,
    failure_class       text,
    hint                text,
    -- the one Slack message per terminal state
    notified_state      text        not null default '',
    notify_lease_until  double precision not null default 0,
    notified_at         timestamptz,
    extra               jsonb,
    primary key (run_key, attempt)
);

create index if not exists runs_job_id on public.runs (job_id);
create index if not exists runs_requested_at on public.runs (requested_at desc);
create index if not exists runs_open on public.runs (state_rank, requested_at) where state_rank < 9;
create index if not exists runs_ended_at on public.runs (ended_at);

-- Events a function acknowledged without acting on them (bad payloads): kept for a person to read.
create table if not exists public.rejected_events (
    id          bigint generated always as identity primary key,
    function    text        not null,
    reason_code text        not null,
    at          timestamptz not null default now(),
    event_id    text,
    error       text
);

-- The trainer's next-day forecasts: one row per (run, symbol, target date). A rerun of the same
-- run_key replaces its rows (upsert on the primary key, then rows of other attempts are deleted).
create table if not exists public.predictions (
    run_key          text        not null,
    symbol           text        not null,
    target_date      date        not null,
    attempt          integer     not null check (attempt >= 1),
    last_date        date,
    last_close       double precision,
    predicted_close  double precision not null,
    predicted_return double precision,
    baselines        jsonb,
    model            text,
    package_version  text,
    generated_at     timestamptz,
    primary key (run_key, symbol, target_date),
    foreign key (run_key, attempt) references public.runs (run_key, attempt) on delete cascade
);

create index if not exists predictions_symbol_target on public.predictions (symbol, target_date desc, generated_at desc);

-- What the team's app reads: the newest forecast per symbol (latest target date, then the newest run).
create or replace view public.latest_predictions with (security_invoker = true) as
select distinct on (symbol) *
from public.predictions
order by symbol, target_date desc, generated_at desc nulls last, run_key desc;

-- Row-level security: nothing is readable with the anon key; flexrun's functions use the service role.
alter table public.runs enable row level security;
alter table public.rejected_events enable row level security;
alter table public.predictions enable row level security;

drop policy if exists runs_service_role on public.runs;
create policy runs_service_role on public.runs for all to service_role using (true) with check (true);
drop policy if exists rejected_events_service_role on public.rejected_events;
create policy rejected_events_service_role on public.rejected_events for all to service_role using (true) with check (true);
drop policy if exists predictions_service_role on public.predictions;
create policy predictions_service_role on public.predictions for all to service_role using (true) with check (true);

grant select, insert, update, delete on public.runs, public.rejected_events, public.predictions to service_role;
grant select on public.latest_predictions to service_role;
