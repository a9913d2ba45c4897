"""boto3 clients with standard retries. They honour AWS_ENDPOINT_URL, so the same code runs
against AWS or the local emulator. Created on first use, never at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient

CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
)


def sagemaker() -> SageMakerClient:
    return boto3.client("sagemaker", config=CLIENT_CONFIG)


def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


def sns() -> SNSClient:
    return boto3.client("sns", config=CLIENT_CONFIG)
