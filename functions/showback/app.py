"""Lambda entry point for the monthly showback: each project owner gets last month's SageMaker
spend of their projects (`autotag.showback`). Scheduled by the ShowbackSchedule parameter; an
operator may invoke it with {"month": "YYYY-MM"} to send a month's messages not yet sent."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autotag import aws
from autotag.notify import Notifier
from autotag.observability import count_metric, logger, metrics
from autotag.registry import RegistryReader
from autotag.settings import Settings, SettingsError
from autotag.showback import Ledger, Showback, read_month


class ShowbackIncompleteError(Exception):
    """Some owners' messages did not go: the retry sends them (and nothing twice)."""


@cache
def showback() -> Showback:
    settings = Settings.from_env()
    if settings.state_table is None:
        raise SettingsError("the showback function needs STATE_TABLE")
    dynamodb = aws.dynamodb()
    return Showback(
        registry=RegistryReader(dynamodb, settings.registry_table, settings.cache_ttl_seconds),
        costs=aws.cost_explorer(),
        ledger=Ledger(dynamodb, settings.state_table),
        notifier=Notifier(aws.sns(), settings.notify_topic_arn),
        count=count_metric,
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    start, end = read_month(event, datetime.now(UTC).date())
    summary = showback().run(start, end, lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("showback run", extra={"summary": summary})
    if summary["failed"] or summary["left"]:
        raise ShowbackIncompleteError(
            f"{len(summary['failed'])} failed, {summary['left']} not sent yet (held by another "
            f"run, or out of time) for {summary['month']}: a retry sends them, and nothing twice"
        )
    return summary
