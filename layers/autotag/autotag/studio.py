"""Studio user profiles: a profile's execution role (to check a Studio claim against the
session's role) and its tags, read through an injected client and cached in the warm container.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from autotag.cache import TtlCache
from autotag.sagemaker import ResourceMissingError, ResourceTags, describe

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


@dataclass(frozen=True)
class Profile:
    arn: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    # The roles a session of this profile runs as: its own, else its domain's default.
    execution_roles: frozenset[str] = frozenset()
    domain_id: str | None = None
    note: str = ""  # why nothing was read, when nothing was


def _execution_role(settings: Any) -> str | None:
    role = settings.get("ExecutionRole") if isinstance(settings, Mapping) else None
    return role if isinstance(role, str) and role else None


class StudioProfiles:
    """The Studio user profile named `name` (in `domain_id`, when known)."""

    permissions: Final = (
        "sagemaker:ListTags",
        "sagemaker:DescribeUserProfile",
        "sagemaker:DescribeDomain",
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
        self._profiles: TtlCache[tuple[str, str], Profile] = TtlCache(ttl, clock)
        self._domains: TtlCache[str, str | None] = TtlCache(ttl, clock)

    def lookup(self, name: str, domain_id: str | None) -> Profile:
        return self._profiles.get((domain_id or "", name), lambda: self._fetch(name, domain_id))

    def _fetch(self, name: str, domain_id: str | None) -> Profile:
        domain_id = domain_id or self._only_domain(name)
        if domain_id is None:
            return Profile(None, note=f"no single Studio user profile named {name!r} was found")
        try:
            described = describe(
                self._client.describe_user_profile, DomainId=domain_id, UserProfileName=name
            )
            arn = described.get("UserProfileArn")
            role = _execution_role(described.get("UserSettings")) or self._default_role(domain_id)
            tags = self._tags.read(arn) if isinstance(arn, str) else {}
        except ResourceMissingError:
            return Profile(None, note=f"the Studio user profile {name!r} cannot be read")
        return Profile(
            arn if isinstance(arn, str) else None,
            tags,
            frozenset({role} if role else ()),
            domain_id,
        )

    def _default_role(self, domain_id: str) -> str | None:
        def fetch() -> str | None:
            try:
                described = describe(self._client.describe_domain, DomainId=domain_id)
            except ResourceMissingError:
                return None
            return _execution_role(described.get("DefaultUserSettings"))

        return self._domains.get(domain_id, fetch)

    def _only_domain(self, name: str) -> str | None:
        """The domain of the one profile called `name`; None when none or several are."""
        domains = {
            item["DomainId"]
            for page in self._client.get_paginator("list_user_profiles").paginate(
                UserProfileNameContains=name
            )
            for item in page.get("UserProfiles", [])
            if item.get("UserProfileName") == name and "DomainId" in item
        }
        return domains.pop() if len(domains) == 1 else None
