"""The Powertools logger and metrics every part of the tagger shares."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE: Final = "sagemaker-autotag"
NAMESPACE: Final = "SageMakerAutoTag"

logger: Final = Logger(service=SERVICE)
metrics: Final = Metrics(namespace=NAMESPACE, service=SERVICE)


_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def without_emails(value: Any, ids: Mapping[str, str] | None = None) -> Any:
    """`value` (a summary: dicts, lists, strings) as INFO logs may carry it: each e-mail
    address replaced by the registry id of its person (`ids`, keyed by folded address), else by
    a stable pseudonym (`email#<hash>`, the same in every line) that finds the address again
    only for someone who already knows it."""
    known = ids or {}

    def swap(found: re.Match[str]) -> str:
        address = found.group(0).casefold()
        return known.get(address) or "email#" + hashlib.sha256(address.encode()).hexdigest()[:10]

    if isinstance(value, str):
        return _EMAIL.sub(swap, value)
    if isinstance(value, Mapping):
        return {key: without_emails(item, known) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_emails(item, known) for item in value]
    return value


class Counter(Protocol):
    def __call__(self, name: str, value: int = 1) -> None: ...


def count_metric(name: str, value: int = 1) -> None:
    """A Counter that records a CloudWatch metric (flushed by `metrics.log_metrics`)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class Timing(Protocol):
    def __call__(self, name: str, seconds: float, trigger: str) -> None: ...


def no_timing(name: str, seconds: float, trigger: str) -> None:
    del name, seconds, trigger


def seconds_metric(name: str, seconds: float, trigger: str) -> None:
    """A Timing that records a CloudWatch metric in seconds, by trigger (its own EMF line).
    Silent when POWERTOOLS_METRICS_DISABLED is set, like the shared `metrics` (Powertools'
    `single_metric` does not read it)."""
    if is_metrics_disabled():
        return
    with single_metric(
        name=name,
        unit=MetricUnit.Seconds,
        value=seconds,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="trigger", value=trigger)


class SummedCounter:
    """A Counter that adds up, for a long run (the sweep) to record each metric once, summed,
    instead of one data point per resource."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}

    def __call__(self, name: str, value: int = 1) -> None:
        self.totals[name] = self.totals.get(name, 0) + value

    def flush(self, into: Counter) -> None:
        for name, total in sorted(self.totals.items()):
            into(name, total)
        self.totals.clear()
