"""The capacity fallback chain: which GPU, region and strategy each attempt of a run uses, and when to move on.

A chain is data: a list of steps, from FLEXRUN_FALLBACK_CHAIN (compact text, a JSON list, or a .json
file) or from the run message's `fallback` field. Compact text, steps separated by commas or `>`:

    L4@us-central1:FLEX_START, L4@us-east4:FLEX_START, A100@us-central1:FLEX_START~2h, L4:SPOT, STANDARD

A step is `[GPU[xCOUNT][/MACHINE]][@REGION][:STRATEGY][~MAX_WAIT]` (MAX_WAIT in the one duration
grammar, shared/config/durations.py: `~90m`, `~1h30m`); what it leaves out is inherited from
the step before (the first step inherits the run message and the settings). `STANDARD` alone means
"the same GPU and region, on demand": with a FLEX_START step before it that has `~30m`, that is the
seeds' FALL_BACK_TO_ON_DEMAND ("after waiting 30 minutes, fall back to on-demand").

Like SkyPilot's recovery strategies, each step is a small named value and moving on is one decision
(`next_step`): a failure whose class is in the policy's `retry_on` starts the next step as a new attempt
of the same run (same run_key, attempt + 1), up to the chain's length and `max_attempts`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import durations
from shared.errors import ConfigurationError, InvalidRunRequest
from shared.jobs import catalog
from shared.runs.failures import FailureClass, classify

if TYPE_CHECKING:
    from shared.runs.record import RunError, RunRecord  # the record holds a chain of `Resolved` steps

STRATEGIES = ("FLEX_START", "SPOT", "STANDARD")
_STRATEGY_RANK = {name: rank for rank, name in enumerate(STRATEGIES)}  # tie-break: cheaper strategy first
_STEP = re.compile(
    r"^(?:(?P<gpu>[A-Za-z0-9_]+?)(?:x(?P<count>\d+))?(?:/(?P<machine>[a-z0-9-]+))?)?"
    r"(?:@(?P<region>[a-z]+-[a-z]+\d))?(?::(?P<strategy>[A-Z_]+))?(?:~(?P<wait>[0-9dhms]+))?$"
)


@dataclass(frozen=True)
class Step:
    """One way to get capacity. None = inherited from the step before."""

    gpu_type: str | None = None
    gpu_count: int | None = None
    machine_type: str | None = None
    region: str | None = None
    strategy: str | None = None
    max_wait: int | None = None

    @classmethod
    def parse(cls, text: str) -> Step:
        text = text.strip()
        if text.upper() in STRATEGIES:
            return cls(strategy=text.upper())
        found = _STEP.match(text)
        if not found or not text:
            raise ValueError(f"fallback step {text!r} is not GPU[xCOUNT][/MACHINE][@REGION][:STRATEGY][~WAIT]")
        strategy = found["strategy"]
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"fallback step {text!r}: strategy must be one of {', '.join(STRATEGIES)}")
        return cls(
            gpu_type=catalog.canonical_gpu(found["gpu"]) if found["gpu"] else None,
            gpu_count=int(found["count"]) if found["count"] else None,
            machine_type=found["machine"],
            region=found["region"],
            strategy=strategy,
            max_wait=durations.parse_seconds(found["wait"]) if found["wait"] else None,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"fallback step has unknown fields {sorted(unknown)}")
        if isinstance(data.get("max_wait"), str):
            data = {**data, "max_wait": durations.parse_seconds(data["max_wait"])}
        step = cls(**data)
        if step.strategy is not None and step.strategy not in STRATEGIES:
            raise ValueError(f"fallback step strategy must be one of {', '.join(STRATEGIES)}")
        return replace(step, gpu_type=catalog.canonical_gpu(step.gpu_type)) if step.gpu_type else step

    def over(self, base: Resolved) -> Resolved:
        """This step applied to the resolved step before it."""
        gpu = self.gpu_type or base.gpu_type
        count = self.gpu_count or (base.gpu_count if gpu == base.gpu_type else 1)
        machine = self.machine_type or (
            base.machine_type
            if (gpu, count) == (base.gpu_type, base.gpu_count)
            else catalog.default_machine(gpu, count)
        )
        return Resolved(
            gpu_type=gpu,
            gpu_count=count,
            machine_type=machine,
            region=self.region or base.region,
            strategy=self.strategy or base.strategy,
            max_wait=self.max_wait if self.max_wait is not None else base.max_wait,
        )


@dataclass(frozen=True)
class Resolved:
    """A step with nothing left to inherit: what one attempt asks Vertex for."""

    gpu_type: str
    gpu_count: int
    machine_type: str
    region: str
    strategy: str
    max_wait: int

    @property
    def label(self) -> str:
        wait = f" max wait {self.max_wait}s" if self.strategy == "FLEX_START" else ""
        return f"{self.gpu_count}x {self.gpu_type} on {self.machine_type} @ {self.region} {self.strategy}{wait}"

    def check(self) -> None:
        """Refuse what Vertex would refuse, before any call (InvalidRunRequest names the problem)."""
        catalog.check_gpu_machine(self.gpu_type, self.machine_type, self.gpu_count)
        catalog.check_strategy(self.gpu_type, self.strategy)
        catalog.check_region(self.gpu_type, self.region)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_chain(value: str | list[Any]) -> list[Step]:
    """Compact text, a JSON list (of compact strings or step objects), or a path to a .json file."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.endswith(".json") and not text.startswith("["):
            text = Path(text).read_text()
        if text.startswith("["):
            return parse_chain(json.loads(text))
        return [Step.parse(part) for part in re.split(r"\s*(?:,|>|→)\s*", text) if part]
    return [Step.parse(item) if isinstance(item, str) else Step.from_dict(item) for item in value]


def configured_chain(text: str) -> list[Step]:
    """FLEXRUN_FALLBACK_CHAIN, read once per process; a bad chain is a configuration error."""
    try:
        return parse_chain(text)
    except (ValueError, OSError, InvalidRunRequest) as exc:
        raise ConfigurationError(f"FLEXRUN_FALLBACK_CHAIN: {exc}") from None


def resolve_chain(first: Resolved, steps: list[Step], order: str = "as_written") -> list[Resolved]:
    """Every attempt's resolved step: attempt 1 is `first`, attempt k+1 is steps[k] over attempt k.

    `first` already holds the chain's first step merged with the run message (the message wins).
    With order "price", the steps after the first are sorted by GPU hourly price × count, cheapest
    first (strategy as tie-break: FLEX_START, SPOT, STANDARD); the first stays the one asked for.
    """
    resolved = [first]
    for step in steps[1:]:
        resolved.append(step.over(resolved[-1]))
    if order == "price":
        resolved = [first, *sorted(resolved[1:], key=_price_key)]
    for item in resolved:
        item.check()
    return resolved


def _price_key(step: Resolved) -> tuple[float, int]:
    price = catalog.hourly_price(step.gpu_type, step.strategy) or catalog.hourly_price(step.gpu_type)
    return (float("inf") if price is None else price * step.gpu_count, _STRATEGY_RANK[step.strategy])


def capacity_failure(state: str, failure_class: str | None, error: RunError | None) -> FailureClass | None:
    """The capacity class a finished attempt failed for (None: not a capacity failure).

    The class stored with the attempt wins (job-state and submit-run asked the classifier when it
    ended); an attempt without one (a reconciled expiry) is classified from its state and error now.
    A DWS wait that expired, a stockout or a quota refusal is what another GPU, region or strategy can
    fix; a trainer error or a timeout is not, and ends the run.
    """
    stored = FailureClass.parse(failure_class)
    if stored is None or stored is FailureClass.UNKNOWN:
        message, code = (error.message, error.code) if error else ("", None)
        stored = classify(message, job_state=state, rpc_code=code)
    return stored if stored.is_capacity else None


def next_step(record: RunRecord, retry_on: frozenset[str], max_attempts: int) -> tuple[int, Resolved, str] | None:
    """(next attempt, its step, why) when a finished attempt should fall back; None when the run ends."""
    if record.attempt >= min(len(record.chain), max_attempts):
        return None
    reason = capacity_failure(record.state.value, record.failure_class, record.error)
    if reason is None or reason not in retry_on:
        return None
    return record.attempt + 1, record.chain[record.attempt], reason
