"""The CloudWatch behaviour moto 5 lacks: percentiles (`ExtendedStatistics` such as `p50`,
`p90`) in GetMetricStatistics, computed from the values moto keeps (`install()` patches its
response class). Values sent as statistic sets have no distribution: they are left out, as
CloudWatch leaves percentiles out for them.
"""

from __future__ import annotations

import math
from typing import Any, Final

from moto.cloudwatch.models import MetricDatum
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

_ORIGINAL: Final[dict[str, Any]] = {}


def percentile(values: list[float], name: str) -> float:
    """`p90` of `values`, by nearest rank."""
    ordered = sorted(values)
    rank = math.ceil(float(name[1:]) / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def get_metric_statistics(self: CloudWatchResponse) -> Any:
    wanted = self._get_param("ExtendedStatistics") or []
    if not wanted:
        return _ORIGINAL["get_metric_statistics"](self)
    found = self.cloudwatch_backend.get_metric_statistics(
        self._get_param("Namespace"),
        self._get_param("MetricName"),
        self._get_param("StartTime"),
        self._get_param("EndTime"),
        self._get_int_param("Period"),
        [],
        unit=self._get_param("Unit"),
        dimensions=self._get_param("Dimensions", []),
    )
    points = []
    for bucket in found:
        values = [float(m.value) for m in bucket.metric_data if isinstance(m, MetricDatum)]
        if values:
            points.append(
                {
                    "Timestamp": bucket.timestamp,
                    "Unit": bucket.unit or "None",
                    "ExtendedStatistics": {name: percentile(values, name) for name in wanted},
                }
            )
    return ActionResult({"Label": self._get_param("MetricName"), "Datapoints": points})


def install() -> None:
    """Patch moto's CloudWatch responses (idempotent)."""
    if "get_metric_statistics" not in _ORIGINAL:
        _ORIGINAL["get_metric_statistics"] = CloudWatchResponse.get_metric_statistics
    CloudWatchResponse.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
