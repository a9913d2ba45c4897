"""The Powertools logger and metrics every part of the tagger shares."""

from __future__ import annotations

from typing import Final, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE: Final = "sagemaker-autotag"
NAMESPACE: Final = "SageMakerAutoTag"

logger: Final = Logger(service=SERVICE)
metrics: Final = Metrics(namespace=NAMESPACE, service=SERVICE)


class Counter(Protocol):
    def __call__(self, name: str, value: int = 1) -> None: ...


def count_metric(name: str, value: int = 1) -> None:
    """A Counter that records a CloudWatch metric (flushed by `metrics.log_metrics`)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


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
