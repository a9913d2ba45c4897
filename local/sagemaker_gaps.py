"""The SageMaker behaviour moto 5 lacks or gets wrong, filled in one place (AWS-FACTS §4).

- Studio user profiles: CreateUserProfile, DescribeUserProfile, ListUserProfiles,
  DeleteUserProfile (ARNs `user-profile/<domain-id>/<name>`, name lower-cased as SageMaker does);
- tags on resources moto does not model (spaces, apps, inference components, labeling jobs,
  monitoring schedules, AutoML v1 jobs, ...): `seed_resource` registers them by ARN;
- ListTags / AddTags / DeleteTags for every ARN, including two-segment ones; AddTags replaces by
  key instead of appending a duplicate, works on resources created without tags, and rejects what
  SageMaker rejects (bad characters, over-long keys or values, more than 50 tags);
- ListTags on an unknown ARN is a ValidationException, not an HTTP 500.

`install()` patches moto's SageMaker backend and response classes in-process; moto looks handler
methods up on every call, so the patches also serve `ThreadedMotoServer`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

MAX_TAGS: Final = 50
_STORE: Final = "_local_resources"
_PUNCTUATION: Final = frozenset("_.:/=+-@")


@dataclass
class LocalResource:
    arn: str
    tags: list[dict[str, str]] = field(default_factory=list)
    description: dict[str, Any] = field(default_factory=dict)


def _store(backend: SageMakerModelBackend) -> dict[str, LocalResource]:
    store: dict[str, LocalResource] | None = backend.__dict__.get(_STORE)
    if store is None:
        store = {}
        setattr(backend, _STORE, store)
    return store


def backend_for(account: str, region: str) -> SageMakerModelBackend:
    backend: SageMakerModelBackend = sagemaker_backends[account][region]
    return backend


def seed_resource(arn: str, tags: dict[str, str] | None = None) -> None:
    """Make a resource exist at `arn` with `tags`, whatever its kind (what SageMaker would hold
    right after the Create call)."""
    parts = arn.split(":", 5)
    backend = backend_for(parts[4], parts[3])
    _store(backend)[arn] = LocalResource(
        arn, [{"Key": key, "Value": value} for key, value in (tags or {}).items()]
    )


def _tag_list(backend: SageMakerModelBackend, arn: str) -> list[dict[str, str]]:
    """The live tag list of the resource at `arn`, from our store or moto's own models."""
    local = _store(backend).get(arn)
    if local is not None:
        return local.tags
    resource: Any = None
    kind_and_name = arn.split(":", 5)[-1]
    if kind_and_name.count("/") == 1:
        try:
            resource = backend._get_resource_from_arn(arn)
        except (ValidationError, KeyError, AttributeError, ValueError):
            resource = None
    if resource is None:
        raise ValidationError(message=f"Resource {arn} not found.")
    if getattr(resource, "tags", None) is None:
        resource.tags = []
    tags: list[dict[str, str]] = resource.tags
    return tags


def _valid(text: str) -> bool:
    return all(unicodedata.category(c)[0] in "LNZ" or c in _PUNCTUATION for c in text)


def _check_tags(current: list[dict[str, str]], new: list[dict[str, str]]) -> None:
    for tag in new:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if not 1 <= len(key) <= 128 or not _valid(key) or key.lower().startswith("aws:"):
            raise ValidationError(message=f"Invalid tag key {key!r}.")
        if len(value) > 256 or not _valid(value):
            raise ValidationError(message=f"Invalid tag value {value!r} for key {key!r}.")
    keys = {t["Key"] for t in current} | {t["Key"] for t in new}
    if len([k for k in keys if not k.lower().startswith("aws:")]) > MAX_TAGS:
        raise ValidationError(message=f"Tag count exceeds the maximum of {MAX_TAGS} tags.")


def list_tags(
    self: SageMakerModelBackend,
    arn: str,
    MaxResults: int | None = None,  # noqa: N803  (moto passes the API's member names)
    NextToken: str | None = None,  # noqa: N803
) -> tuple[list[dict[str, str]], str | None]:
    tags = _tag_list(self, arn)
    start = int(NextToken or 0)
    size = int(MaxResults or 50)
    end = start + size
    return tags[start:end], (str(end) if end < len(tags) else None)


def add_tags(
    self: SageMakerModelBackend, arn: str, tags: list[dict[str, str]]
) -> list[dict[str, str]]:
    current = _tag_list(self, arn)
    new = list(tags or [])
    _check_tags(current, new)
    for tag in new:
        for existing in current:
            if existing["Key"] == tag["Key"]:
                existing["Value"] = tag.get("Value", "")
                break
        else:
            current.append({"Key": tag["Key"], "Value": tag.get("Value", "")})
    return current


def delete_tags(self: SageMakerModelBackend, arn: str, tag_keys: list[str]) -> None:
    current = _tag_list(self, arn)
    current[:] = [tag for tag in current if tag["Key"] not in set(tag_keys)]


# --------------------------------------------------------------------------- user profiles


def _profile_arn(backend: SageMakerModelBackend, domain_id: str, name: str) -> str:
    return (
        f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:"
        f"user-profile/{domain_id}/{name.lower()}"
    )


def _profile(backend: SageMakerModelBackend, domain_id: str, name: str) -> LocalResource:
    found = _store(backend).get(_profile_arn(backend, domain_id, name))
    if found is None:
        raise ResourceNotFound(message=f"User profile {name} in domain {domain_id} not found.")
    return found


class _UserProfiles:
    """Methods grafted onto moto's SageMakerResponse."""

    sagemaker_backend: SageMakerModelBackend

    def _get_param(self, name: str, if_none: Any = None) -> Any: ...

    def create_user_profile(self) -> ActionResult:
        backend = self.sagemaker_backend
        domain_id = self._get_param("DomainId")
        name = self._get_param("UserProfileName")
        arn = _profile_arn(backend, domain_id, name)
        if arn in _store(backend):
            raise ResourceInUseException(message=f"User profile {name} already exists.")
        tags = list(self._get_param("Tags") or [])
        _check_tags([], tags)
        now = datetime.now(UTC)
        _store(backend)[arn] = LocalResource(
            arn,
            tags,
            {
                "DomainId": domain_id,
                "UserProfileArn": arn,
                "UserProfileName": name,
                "Status": "InService",
                "CreationTime": now,
                "LastModifiedTime": now,
                "UserSettings": self._get_param("UserSettings") or {},
            },
        )
        return ActionResult({"UserProfileArn": arn})

    def describe_user_profile(self) -> ActionResult:
        found = _profile(
            self.sagemaker_backend, self._get_param("DomainId"), self._get_param("UserProfileName")
        )
        return ActionResult(found.description)

    def list_user_profiles(self) -> ActionResult:
        contains = (self._get_param("UserProfileNameContains") or "").lower()
        domain = self._get_param("DomainIdEquals")
        profiles = [
            {key: r.description[key] for key in ("DomainId", "UserProfileName", "Status")}
            | {"CreationTime": r.description["CreationTime"]}
            for r in _store(self.sagemaker_backend).values()
            if r.description.get("UserProfileArn")
            and contains in r.description["UserProfileName"].lower()
            and domain in (None, r.description["DomainId"])
        ]
        return ActionResult({"UserProfiles": profiles})

    def delete_user_profile(self) -> ActionResult:
        backend = self.sagemaker_backend
        found = _profile(backend, self._get_param("DomainId"), self._get_param("UserProfileName"))
        del _store(backend)[found.arn]
        return EmptyResult()


_BACKEND_PATCHES: Final = {"list_tags": list_tags, "add_tags": add_tags, "delete_tags": delete_tags}
_RESPONSE_PATCHES: Final = (
    "create_user_profile",
    "describe_user_profile",
    "list_user_profiles",
    "delete_user_profile",
)


def install() -> None:
    """Apply the patches (idempotent)."""
    for name, function in _BACKEND_PATCHES.items():
        setattr(SageMakerModelBackend, name, function)
    for name in _RESPONSE_PATCHES:
        setattr(SageMakerResponse, name, getattr(_UserProfiles, name))
