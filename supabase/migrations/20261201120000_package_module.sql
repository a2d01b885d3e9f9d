-- flexrun run records, schema version 1, continued (docs/run-record.md): the module a run's job runs
-- with `python -m` (a wrapped script's own entry module, `flexrun package wrap`). Applied after the
-- earlier migrations; rows written before it keep NULL (= the FLEXRUN_TRAINER_MODULE setting).

alter table public.runs add column if not exists package_module text;
