"""boto3 clients with standard retries. They honour AWS_ENDPOINT_URL, so the same code runs
against AWS or the local emulator. Created on first use, never at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

ATTEMPTS: Final = 3  # in all, the first try included
CONNECT_TIMEOUT: Final = 2.0
READ_TIMEOUT: Final = 5.0
CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
)
# botocore's standard mode waits rand(0,1) * min(2**i, 20) s before retry i (more if AWS sends
# x-amz-retry-after, at most 5 s more) and retries throttling and transient errors only.
MAX_BACKOFF: Final = 20.0
RETRY_AFTER_EXTRA: Final = 5.0


def worst_case_call_seconds(
    attempts: int = ATTEMPTS, connect: float = CONNECT_TIMEOUT, read: float = READ_TIMEOUT
) -> float:
    """The longest one API call can take, every attempt timing out and every wait maximal."""
    waits = sum(min(2.0**i, MAX_BACKOFF) + RETRY_AFTER_EXTRA for i in range(attempts - 1))
    return attempts * (connect + read) + waits


def cloudtrail() -> CloudTrailClient:
    return boto3.client("cloudtrail", config=CLIENT_CONFIG)


def cost_explorer() -> Any:
    """Cost Explorer (its endpoint is us-east-1's, whatever the Region)."""
    return boto3.client("ce", region_name="us-east-1", config=CLIENT_CONFIG)


def sagemaker() -> SageMakerClient:
    return boto3.client("sagemaker", config=CLIENT_CONFIG)


def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


def sns() -> SNSClient:
    return boto3.client("sns", config=CLIENT_CONFIG)


def sqs() -> SQSClient:
    return boto3.client("sqs", config=CLIENT_CONFIG)


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError (`ThrottlingException`, ...); "" for anything else."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def error_message(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message", ""))
    return str(error)
