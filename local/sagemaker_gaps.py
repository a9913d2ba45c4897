"""The SageMaker behaviour moto 5 lacks or gets wrong, filled in one place.

- Studio user profiles: CreateUserProfile, DescribeUserProfile, ListUserProfiles,
  DeleteUserProfile (ARNs `user-profile/<domain-id>/<name>`, name lower-cased as SageMaker does);
- tags on resources moto does not model (spaces, apps, inference components, labeling jobs,
  monitoring schedules, AutoML v1 jobs, ...): `seed_resource` registers them by ARN;
- ListTags / AddTags / DeleteTags for every ARN, including two-segment ones; AddTags replaces by
  key instead of appending a duplicate, works on resources created without tags, and rejects what
  SageMaker rejects (bad characters, over-long keys or values, more than 50 tags);
- ListTags on an unknown ARN is a ValidationException, not an HTTP 500;
- the sweep's reads: `Search` with pages of up to 100 and tags (moto has no pages, no tuning
  jobs), every List* of `autotag.inventory.LISTINGS` (moto lacks several), and Describe* of
  seeded resources (the parents lineage reads, spaces, apps, pipeline executions); each serves
  moto's own resources and the seeded ones alike.

`install()` patches moto's SageMaker backend and response classes in-process; moto looks handler
methods up on every call, so the patches also serve `ThreadedMotoServer`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

import botocore.session
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from autotag.events import SUPPORTED
from autotag.inventory import LISTINGS

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


def seed_resource(
    arn: str, tags: dict[str, str] | None = None, description: dict[str, Any] | None = None
) -> None:
    """Make a resource exist at `arn` with `tags`, whatever its kind (what SageMaker would hold
    right after the Create call). `description` is what Describe, List* and Search show of it
    (the API's member names); its ARN and name are filled in when absent."""
    parts = arn.split(":", 5)
    backend = backend_for(parts[4], parts[3])
    kind, _, name = parts[5].partition("/")
    member = _MEMBERS.get(kind)
    shown: dict[str, Any] = {f"{member}Arn": arn, f"{member}Name": name} if member else {}
    studio = _studio_fields(kind, name)
    if description and "UserProfileName" in description:
        studio.pop("SpaceName", None)  # an app of a user profile, not of a space
    shown |= studio
    shown["CreationTime"] = datetime.now(UTC)
    _store(backend)[arn] = LocalResource(
        arn,
        [{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        {**shown, **(description or {})},
    )


def _studio_fields(kind: str, name: str) -> dict[str, str]:
    """What SageMaker shows of a space (`<domain>/<space>`) or an app
    (`<domain>/<space>/<type>/<name>`; the emulator takes the owner for a space)."""
    parts = name.split("/")
    if kind == "space" and len(parts) == 2:
        return {"DomainId": parts[0], "SpaceName": parts[1]}
    if kind == "app" and len(parts) == 4:
        app_types = {"jupyterlab": "JupyterLab", "codeeditor": "CodeEditor"}
        return {
            "DomainId": parts[0],
            "SpaceName": parts[1],
            "AppType": app_types.get(parts[2], parts[2]),
            "AppName": parts[3],
        }
    return {}


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


# --------------------------------------------------------------------------- the sweep's reads

# kind -> the API's member name (TrainingJob) and moto's own store of that kind, if any.
_MEMBERS: Final = {spec.kind: spec.member for spec in SUPPORTED}
_MOTO_STORES: Final = {
    "training-job": "training_jobs",
    "processing-job": "processing_jobs",
    "transform-job": "transform_jobs",
    "hyper-parameter-tuning-job": "hyper_parameter_tuning_jobs",
    "automl-job": "auto_ml_jobs",
    "compilation-job": "compilation_jobs",
    "model": "_models",
    "endpoint-config": "endpoint_configs",
    "endpoint": "endpoints",
    "notebook-instance": "notebook_instances",
    "pipeline": "pipelines",
    "cluster": "clusters",  # moto names a cluster's ARN by its name, SageMaker by its id
    "feature-group": "feature_groups",
}
_SEARCHABLE: Final = {spec.member: spec.kind for spec in SUPPORTED if spec.searchable}


def _kind_of(arn: str) -> str:
    return arn.split(":", 5)[-1].split("/", 1)[0]


def _arn_of(item: Any) -> str:
    """A moto model's ARN (moto 5.2 keeps an endpoint config's in a 1-tuple)."""
    arn = item.arn
    return str(arn[0] if isinstance(arn, tuple) else arn)


def _moto_description(kind: str, item: Any) -> dict[str, Any]:
    member = _MEMBERS[kind]
    arn = _arn_of(item)
    shown: dict[str, Any] = {
        f"{member}Arn": arn,
        f"{member}Name": arn.split("/", 1)[1],
        "CreationTime": getattr(item, "creation_time", None),
    }
    for attribute, name in (
        ("endpoint_config_name", "EndpointConfigName"),
        ("production_variants", "ProductionVariants"),
    ):
        if getattr(item, attribute, None):
            shown[name] = getattr(item, attribute)
    return {key: value for key, value in shown.items() if value is not None}


def _catalog(backend: SageMakerModelBackend, kind: str) -> list[LocalResource]:
    """Every resource of `kind`, moto's and seeded ones, in a stable order."""
    found = {
        r.arn: r
        for r in _store(backend).values()
        if _kind_of(r.arn) == kind and "/execution/" not in r.arn  # not pipeline executions
    }
    for item in getattr(backend, _MOTO_STORES.get(kind, ""), {}).values():
        arn = _arn_of(item)
        if arn not in found:
            found[arn] = LocalResource(arn, _tag_list(backend, arn), _moto_description(kind, item))
    return [found[arn] for arn in sorted(found)]


def _page(
    items: list[dict[str, Any]], token: str | None, size: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    if size is not None and not 1 <= int(size) <= 100:
        raise ValidationError(message=f"MaxResults {size} is not between 1 and 100.")
    try:
        start = int(token or 0)
    except ValueError:
        raise ValidationError(message=f"Invalid pagination token {token!r}.") from None
    end = start + int(size or 10)
    return items[start:end], (str(end) if end < len(items) else None)


@cache
def _summary_members(operation: str, result_key: str) -> frozenset[str]:
    """The members of one item of a List* operation's result, from botocore's model."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    output: Any = model.operation_model(operation).output_shape
    return frozenset(output.members[result_key].member.members)


class _Reads:
    """Search, List* and Describe* methods grafted onto moto's SageMakerResponse."""

    sagemaker_backend: SageMakerModelBackend

    def _get_param(self, name: str, if_none: Any = None) -> Any: ...

    def search(self) -> ActionResult:
        backend = self.sagemaker_backend
        member = self._get_param("Resource")
        kind = _SEARCHABLE.get(member)
        if kind is None:
            raise ValidationError(message=f"Search of {member!r} is not emulated.")
        results = [
            {member: {**r.description, "Tags": list(_tag_list(backend, r.arn))}}
            for r in _catalog(backend, kind)
        ]
        page, token = _page(results, self._get_param("NextToken"), self._get_param("MaxResults"))
        return ActionResult({"Results": page, **({"NextToken": token} if token else {})})

    def _list(self, kind: str, result_key: str) -> ActionResult:
        # A listing shows only its summary's members (no ProductionVariants in ListEndpointConfigs,
        # no ARN in ListSpaces and ListApps), as SageMaker's does.
        members = _summary_members(LISTINGS[kind].actions[0], result_key)
        items = [
            {k: v for k, v in r.description.items() if k in members}
            for r in _catalog(self.sagemaker_backend, kind)
        ]
        page, token = _page(items, self._get_param("NextToken"), self._get_param("MaxResults"))
        return ActionResult({result_key: page, **({"NextToken": token} if token else {})})

    def _describe(self, operation: str, kind: str, identifying: tuple[str, ...]) -> ActionResult:
        wanted = {key: self._get_param(key) for key in identifying if self._get_param(key)}
        for resource in _store(self.sagemaker_backend).values():
            shown = resource.description
            if (
                wanted
                and _described_kind(resource.arn) == kind
                and all(shown.get(key) == value for key, value in wanted.items())
            ):
                return ActionResult(shown)
        original = _ORIGINALS.get(operation)
        if original is None:
            raise ResourceNotFound(message=f"{operation}: nothing matches {wanted}.")
        result: ActionResult = original(self)
        return result


# Describe* answered from the seeded resources (else by moto): the kind, and the fields that
# identify one.
_DESCRIBES: Final = {
    "describe_training_job": ("training-job", ("TrainingJobName",)),
    "describe_endpoint_config": ("endpoint-config", ("EndpointConfigName",)),
    "describe_model": ("model", ("ModelName",)),
    "describe_endpoint": ("endpoint", ("EndpointName",)),
    "describe_space": ("space", ("DomainId", "SpaceName")),
    "describe_app": ("app", ("DomainId", "UserProfileName", "SpaceName", "AppType", "AppName")),
    "describe_pipeline_execution": ("pipeline-execution", ("PipelineExecutionArn",)),
    "describe_domain": ("domain", ("DomainId",)),
}


def _described_kind(arn: str) -> str:
    return "pipeline-execution" if "/execution/" in arn else _kind_of(arn)


_ORIGINALS: Final[dict[str, Any]] = {}


def _lister(kind: str, result_key: str) -> Any:
    def method(self: _Reads) -> ActionResult:
        return self._list(kind, result_key)

    return method


def _describer(operation: str, kind: str, identifying: tuple[str, ...]) -> Any:
    def method(self: _Reads) -> ActionResult:
        return self._describe(operation, kind, identifying)

    return method


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
    for name in ("search", "_list", "_describe"):
        setattr(SageMakerResponse, name, getattr(_Reads, name))
    for kind, listing in LISTINGS.items():
        if listing.operation != "search":
            setattr(SageMakerResponse, listing.operation, _lister(kind, listing.result_key))
    for operation, (kind, identifying) in _DESCRIBES.items():
        if operation not in _ORIGINALS:
            _ORIGINALS[operation] = getattr(SageMakerResponse, operation, None)
        setattr(SageMakerResponse, operation, _describer(operation, kind, identifying))
