"""Lambda entry point for successful SageMaker Create* calls seen in CloudTrail."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autotag.observability import count_metric, logger, metrics, seconds_metric
from autotag.settings import Settings
from autotag.tagger import Tagger


@cache
def tagger() -> Tagger:
    """Built on the first invocation and kept for the warm container (clients, caches)."""
    return Tagger.from_settings(Settings.from_env(), count_metric, seconds_metric)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return tagger().handle(event, context)
