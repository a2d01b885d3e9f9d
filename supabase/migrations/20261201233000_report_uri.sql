-- flexrun run records, continued (docs/run-record.md): the run's own page (`OUTPUT_URI/report.html`,
-- written by job-state when it announces the run). Rows written before it keep NULL (no page).

alter table public.runs add column if not exists report_uri text;
