"""Studio user profiles: find a profile's ARN and read its tags, cached in the warm container."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from autotag.identity import Principal
from autotag.sagemaker import ResourceMissingError, ResourceTags

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

_NOT_FOUND: Final = frozenset({"ResourceNotFound", "ValidationException"})


@dataclass(frozen=True)
class Profile:
    arn: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    note: str = ""  # why no tags were read, when none were


class StudioProfiles:
    """Tags of the Studio user profile behind a principal."""

    permissions: Final = (
        "sagemaker:ListTags",
        "sagemaker:DescribeUserProfile",
        "sagemaker:ListUserProfiles",
    )

    def __init__(
        self,
        client: SageMakerClient,
        tags: ResourceTags,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._tags = tags
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str, str], tuple[float, Profile]] = {}

    def lookup(self, principal: Principal) -> Profile | None:
        if not principal.profile_name:
            return None
        key = (principal.profile_arn or "", principal.domain_id or "", principal.profile_name)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        profile = self._fetch(principal.profile_name, principal.profile_arn, principal.domain_id)
        self._cache[key] = (now + self._ttl, profile)
        return profile

    def _fetch(self, name: str, arn: str | None, domain_id: str | None) -> Profile:
        try:
            arn = arn or self._find_arn(name, domain_id)
            if arn is None:
                return Profile(None, note=f"no Studio user profile named {name!r} was found")
            return Profile(arn, self._tags.read(arn))
        except ResourceMissingError:
            return Profile(arn, note=f"the Studio user profile {name!r} cannot be read")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return Profile(arn, note=f"the Studio user profile {name!r} cannot be read")
            raise

    def _find_arn(self, name: str, domain_id: str | None) -> str | None:
        if domain_id is None:
            domains = {
                item["DomainId"]
                for page in self._client.get_paginator("list_user_profiles").paginate(
                    UserProfileNameContains=name
                )
                for item in page.get("UserProfiles", [])
                if item.get("UserProfileName") == name and "DomainId" in item
            }
            if len(domains) != 1:
                return None
            domain_id = domains.pop()
        described = self._client.describe_user_profile(DomainId=domain_id, UserProfileName=name)
        return described.get("UserProfileArn")
