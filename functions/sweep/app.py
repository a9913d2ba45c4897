"""Lambda entry point for the scheduled reconciling sweep: every supported resource, tagged
through the same path as the events; resumes where the previous run stopped."""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext

from autotag.observability import SummedCounter, count_metric, logger, metrics, seconds_metric
from autotag.settings import Settings
from autotag.sweep import Sweep

COUNTS: Final = SummedCounter()  # each metric once per run, summed
_STATUS_METRIC: Final = {"paused": "SweepPaused", "busy": "SweepBusy"}


@cache
def sweep() -> Sweep:
    return Sweep.from_settings(Settings.from_env(), COUNTS, seconds_metric)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    del event  # the schedule's event says nothing the sweep needs
    try:
        summary = sweep().run(lambda: context.get_remaining_time_in_millis() / 1000, context)
    finally:
        COUNTS.flush(count_metric)
    count_metric("SweepResources", summary["resources"])
    count_metric(_STATUS_METRIC.get(summary["status"], "SweepCompleted"))
    return summary
