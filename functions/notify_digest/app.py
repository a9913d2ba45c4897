"""Lambda entry point for the digest timer: each SQS message names a notification window whose
gathering delay is over; send its one message."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from autotag import aws
from autotag.observability import count_metric, logger, metrics
from autotag.outbox import Outbox
from autotag.settings import Settings, SettingsError
from autotag.tagger import notices


@cache
def outbox() -> Outbox:
    settings = Settings.from_env()
    built = notices(settings, aws.dynamodb())
    if not isinstance(built, Outbox):
        raise SettingsError("the digest function needs STATE_TABLE and NOTIFY_WINDOW_SECONDS > 0")
    return built


def flush(record: SQSRecord) -> None:
    key = json.loads(record.body)["key"]
    if outbox().flush(key):
        count_metric("DigestsSent")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=flush, processor=processor, context=context
    )
