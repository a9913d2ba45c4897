"""SageMaker tag reads and writes, through an injected client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from autotag.aws import error_code as _code
from autotag.aws import error_message as _message

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

_NOT_FOUND: Final = frozenset({"ValidationException", "ResourceNotFound"})
_DENIED: Final = frozenset({"AccessDeniedException", "AccessDenied"})


class ResourceMissingError(Exception):
    """SageMaker does not know the resource: not visible yet, or already deleted."""


class TagsRejectedError(Exception):
    """SageMaker refused the tags for good (denied, or invalid): retrying will not help."""


def describe(method: Callable[..., Any], **kwargs: str) -> Mapping[str, Any]:
    """A Describe* call; ResourceMissingError when SageMaker does not know the resource."""
    try:
        response: Mapping[str, Any] = method(**kwargs)
    except ClientError as error:
        if _code(error) in _NOT_FOUND:
            raise ResourceMissingError(f"{kwargs}: {_message(error)}") from error
        raise
    return response


class ResourceTags:
    """`ListTags` (every page) and `AddTags` on one resource ARN."""

    permissions: Final = ("sagemaker:ListTags", "sagemaker:AddTags")

    def __init__(self, client: SageMakerClient) -> None:
        self._client = client

    def read(self, arn: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        kwargs: dict[str, str] = {}
        while True:
            try:
                page = self._client.list_tags(ResourceArn=arn, MaxResults=100, **kwargs)
            except ClientError as error:
                if _code(error) in _NOT_FOUND:
                    raise ResourceMissingError(f"{arn}: {_message(error)}") from error
                raise
            tags.update((tag["Key"], tag.get("Value", "")) for tag in page.get("Tags", []))
            token = page.get("NextToken")
            if not token:
                return tags
            kwargs["NextToken"] = token

    def add(self, arn: str, tags: Mapping[str, str]) -> None:
        """Add the given keys; AddTags overwrites by key, so pass only keys the resource lacks."""
        if not tags:
            return
        try:
            self._client.add_tags(
                ResourceArn=arn, Tags=[{"Key": key, "Value": value} for key, value in tags.items()]
            )
        except ClientError as error:
            code = _code(error)
            if code in _DENIED:
                raise TagsRejectedError(
                    f"AddTags {sorted(tags)} on {arn} was denied ({_message(error)}): is the "
                    "resource kind in the function's policy and every key in ManagedTagKeys?"
                ) from error
            if code == "ValidationException":
                raise TagsRejectedError(
                    f"SageMaker rejected the tags {sorted(tags)} on {arn}: {_message(error)}"
                ) from error
            raise
