"""Set what the stand-in answers, from tests and the demo: quotas, enabled APIs, grants, secrets."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_admin/state", timeout=5) as response:
        return dict(json.load(response))


def update(url: str, **changes: Any) -> dict[str, Any]:
    """Replace the given top-level keys (services, quotas, bindings, secrets, ...)."""
    request = urllib.request.Request(
        f"{url}/_admin/state", data=json.dumps(changes).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.load(response))


def set_quota(url: str, metric: str, region: str, value: int) -> None:
    """`region=""` sets the default for every region without its own value."""
    quotas = state(url)["quotas"]
    for quota in quotas:
        if quota["metric"] == metric:
            quota["values"][region] = value
            break
    else:
        raise KeyError(f"no quota {metric} in the stand-in")
    update(url, quotas=quotas)


def set_gpu_quotas(url: str, value: int, metric_part: str = "_gpus") -> None:
    """Every GPU quota (of metrics containing `metric_part`) to `value` in every region."""
    quotas = state(url)["quotas"]
    for quota in quotas:
        if quota["metric"].endswith("_gpus") and metric_part in quota["metric"]:
            quota["values"] = {"": value}
    update(url, quotas=quotas)


def disable_service(url: str, service: str) -> None:
    update(url, services=[s for s in state(url)["services"] if s != service])


def revoke(url: str, member: str, role: str, resource: str | None = None) -> None:
    bindings = [
        b
        for b in state(url)["bindings"]
        if not (b["member"] == member and b["role"] == role and resource in (None, b["resource"]))
    ]
    update(url, bindings=bindings)


def delete_secret(url: str, secret: str) -> None:
    update(url, secrets=[s for s in state(url)["secrets"] if s != secret])
