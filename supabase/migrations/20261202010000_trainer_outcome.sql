-- flexrun run records, continued (docs/run-record.md): a failed job's `outcome.json` as the trainer wrote
-- it (reason, exit code, last error line), read by job-state. Rows written before it keep NULL.

alter table public.runs add column if not exists trainer_outcome jsonb;
