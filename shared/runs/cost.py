"""What a run costs: each attempt's GPU time at the catalog's hourly price, a run's total over its attempts.

The price comes from the GPU catalog (`catalog.attempt_price_per_hour`, by GPU, machine, count and
strategy); a month's cost per GPU type is summed by the store where the records are (`cost_by_gpu`).
"""

from __future__ import annotations

from shared.jobs import catalog
from shared.runs.record import RunChanges, RunRecord


def attempt_cost(record: RunRecord, run_seconds: float | None) -> RunChanges:
    """The catalog price of one GPU hour of this attempt, and its cost for `run_seconds` on every replica
    (fields the catalog or the job cannot tell stay unset)."""
    price = catalog.attempt_price_per_hour(record.gpu_type, record.machine_type, record.gpu_count, record.strategy)
    if price is None:
        return RunChanges()
    changes = RunChanges(usd_per_gpu_hour=round(price / record.gpu_count, 6))
    if run_seconds is not None:
        # Every replica of the pool carries gpu_count GPUs for the whole run.
        usd = price * record.replicas * run_seconds / 3600.0
        changes = changes.merged(RunChanges(estimated_cost_usd=round(usd, 4)))
    return changes


def run_total(attempt: RunRecord, this_attempt: float | None, others: list[RunRecord]) -> float | None:
    """This attempt's cost plus every other attempt's of the same run_key (fallback steps, reruns)."""
    costs = [run.estimated_cost_usd or 0.0 for run in others if run.attempt != attempt.attempt]
    if this_attempt is None and not any(costs):
        return None
    return round((this_attempt or 0.0) + sum(costs), 4)
