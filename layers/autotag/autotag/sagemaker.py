"""SageMaker tag reads and writes, through an injected client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


class ResourceTags:
    """`ListTags` (every page) and `AddTags` on one resource ARN."""

    permissions: Final = ("sagemaker:ListTags", "sagemaker:AddTags")

    def __init__(self, client: SageMakerClient) -> None:
        self._client = client

    def read(self, arn: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        kwargs: dict[str, str] = {}
        while True:
            page = self._client.list_tags(ResourceArn=arn, MaxResults=100, **kwargs)
            tags.update((tag["Key"], tag.get("Value", "")) for tag in page.get("Tags", []))
            token = page.get("NextToken")
            if not token:
                return tags
            kwargs["NextToken"] = token

    def add(self, arn: str, tags: Mapping[str, str]) -> None:
        """Add the given keys; AddTags overwrites by key, so pass only keys the resource lacks."""
        if tags:
            self._client.add_tags(
                ResourceArn=arn, Tags=[{"Key": key, "Value": value} for key, value in tags.items()]
            )
