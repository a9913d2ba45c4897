"""The parent of a resource (precedence step 2) and the person behind it, read through an
injected client and cached in the warm container.

- a training job launched by a tuning job: the tuning job (`TuningJobArn`);
- a pipeline step (any kind with the system tag `sagemaker:pipeline-execution-arn`): the
  pipeline's tags, and the execution's starter (`DescribePipelineExecution.CreatedBy`);
- an endpoint: its endpoint config, which inherits from its models;
- an endpoint config: its models (keys on which they all agree);
- a Studio app: its space (and the space's owner) or its user profile.

The references (`TuningJobArn`, `EndpointConfigName`, `ProductionVariants`, `SpaceName`, ...)
come from the trigger: the Create call's request, a state-change event, or the sweep's listing.
A training job or an endpoint whose trigger names no parent (a service event, a DeleteTags) is
described; so is an endpoint config the sweep listed (listings leave out its models).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from autotag.cache import TtlCache
from autotag.events import Subject, Trigger
from autotag.identity import Principal, from_created_by, studio_user
from autotag.policy import is_system_key
from autotag.sagemaker import ResourceMissingError, ResourceTags, describe
from autotag.studio import StudioProfiles

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

PIPELINE_EXECUTION_TAG: Final = "sagemaker:pipeline-execution-arn"


class Parent(NamedTuple):
    tags: Mapping[str, str]  # the parent's business tags (system tags left out)
    detail: str = ""  # which parent, for the provenance of each value: "pipeline p1"
    creator: Principal | None = None  # the person behind the parent, when known
    # Found through a tag on the resource (`sagemaker:pipeline-execution-arn`), which a caller
    # can write: its creator counts only for a resource SageMaker itself created.
    from_tag: bool = False
    arn: str = ""  # the parent's ARN, when it is one resource: its own creator record is kept
    # The resource runs inside the parent (an app in a space or a user profile): the parent's
    # person owns it even when a role made it.
    inside: bool = False


NO_PARENT: Final = Parent({})


def _business(tags: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if not is_system_key(key)}


def _common(parents: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The tags every parent agrees on (an endpoint config's several models)."""
    if not parents:
        return {}
    first, *rest = parents
    return {k: v for k, v in first.items() if all(other.get(k) == v for other in rest)}


def _text(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, str) and value else None


class Lineage:
    permissions: Final = (
        "sagemaker:DescribeTrainingJob",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribePipelineExecution",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:DescribeModel",
        "sagemaker:DescribeSpace",
    )

    def __init__(
        self,
        client: SageMakerClient,
        tags: ResourceTags,
        profiles: StudioProfiles,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._tags = tags
        self._profiles = profiles
        self._cache: TtlCache[tuple[str, ...], Parent] = TtlCache(ttl, clock)

    def parent(
        self, subject: Subject, existing: Mapping[str, str], *, by_sagemaker: bool = False
    ) -> Parent:
        """The nearest parent of the subject's resource, or NO_PARENT. The system tag naming a
        pipeline execution is followed only for a resource SageMaker itself created
        (`by_sagemaker`): anyone else can write that tag."""
        refs = subject.references
        execution = {**subject.request_tags, **existing}.get(PIPELINE_EXECUTION_TAG)
        if execution and by_sagemaker:
            return self._cached(("pipeline-execution", execution), self._pipeline, execution)
        kind = subject.spec.kind
        client = self._client
        if kind == "training-job" and (
            tuning := self._reference(
                subject, "TuningJobArn", client.describe_training_job, "TrainingJobName"
            )
        ):
            return self._cached(("tuning-job", tuning), self._tuning_job, tuning)
        if kind == "endpoint" and (
            config := self._reference(
                subject, "EndpointConfigName", client.describe_endpoint, "EndpointName"
            )
        ):
            return self._cached(("endpoint-config", config), self._endpoint_config, config)
        if kind == "endpoint-config":
            if "ProductionVariants" in refs:
                return self._models_of(refs)
            name = subject.resource_name  # listed, not described: ask for its models
            return self._cached(("config-models", name), self._config_models, name)
        if kind == "app":
            return self._app(refs)
        return NO_PARENT

    # ------------------------------------------------------------------ relations

    def _cached(self, key: tuple[str, ...], fetch: Callable[..., Parent], *args: Any) -> Parent:
        def read() -> Parent:
            try:
                return fetch(*args)
            except ResourceMissingError:
                return NO_PARENT  # the parent was deleted: nothing to inherit

        return self._cache.get(key, read)

    def _read(self, arn: str) -> dict[str, str]:
        return _business(self._tags.read(arn))

    def _reference(
        self, subject: Subject, field: str, method: Callable[..., Any], name_parameter: str
    ) -> str | None:
        """The parent named by `field`: from the trigger's references, or, when the trigger
        names no parent (a service event, a DeleteTags), from the resource's own Describe*."""
        found = _text(subject.references, field)
        if found is not None or subject.trigger not in (Trigger.SERVICE, Trigger.DRIFT):
            return found
        try:
            return _text(describe(method, **{name_parameter: subject.resource_name}), field)
        except ResourceMissingError:
            return None

    def _tuning_job(self, arn: str) -> Parent:
        return Parent(self._read(arn), f"tuning job {arn.rsplit('/', 1)[-1]}", arn=arn)

    def _pipeline(self, execution_arn: str) -> Parent:
        described = describe(
            self._client.describe_pipeline_execution, PipelineExecutionArn=execution_arn
        )
        pipeline = _text(described, "PipelineArn")
        created_by = described.get("CreatedBy")
        starter = from_created_by(created_by) if isinstance(created_by, Mapping) else None
        tags = self._read(pipeline) if pipeline else {}
        name = pipeline.rsplit("/", 1)[-1] if pipeline else execution_arn
        return Parent(tags, f"pipeline {name}", starter, from_tag=True)

    def _endpoint_config(self, name: str) -> Parent:
        described = describe(self._client.describe_endpoint_config, EndpointConfigName=name)
        arn = _text(described, "EndpointConfigArn")
        own = self._read(arn) if arn else {}
        inherited = self._models_of(described)
        return Parent({**inherited.tags, **own}, f"endpoint config {name}", arn=arn or "")

    def _config_models(self, name: str) -> Parent:
        described = describe(self._client.describe_endpoint_config, EndpointConfigName=name)
        return self._models_of(described)

    def _models_of(self, config: Mapping[str, Any]) -> Parent:
        """What the models an endpoint config names agree on (its variants, as the API shows)."""
        models = _model_names(config)
        return self._cached(("models", *models), self._models, models) if models else NO_PARENT

    def _models(self, names: tuple[str, ...]) -> Parent:
        found: list[dict[str, str]] = []
        for name in names:
            described = describe(self._client.describe_model, ModelName=name)
            arn = _text(described, "ModelArn")
            found.append(self._read(arn) if arn else {})
        label = "model" if len(names) == 1 else "models"
        return Parent(_common(found), f"{label} {', '.join(names)}")

    def _app(self, refs: Mapping[str, Any]) -> Parent:
        domain = _text(refs, "DomainId")
        space = _text(refs, "SpaceName")
        if space and domain:
            return self._cached(("space", domain, space), self._space, domain, space)
        profile = _text(refs, "UserProfileName")
        if profile:
            owner = studio_user(profile, domain, "the app's user profile")
            tags = _business(self._profiles.lookup(profile, domain).tags)
            return Parent(tags, f"user profile {profile}", owner, inside=True)
        return NO_PARENT

    def _space(self, domain: str, space: str) -> Parent:
        described = describe(self._client.describe_space, DomainId=domain, SpaceName=space)
        arn = _text(described, "SpaceArn")
        settings = described.get("OwnershipSettings")
        owner_name = _text(settings, "OwnerUserProfileName")
        owner = studio_user(owner_name, domain, "the space's owner") if owner_name else None
        return Parent(self._read(arn) if arn else {}, f"space {space}", owner, inside=True)


def _model_names(refs: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for field in ("ProductionVariants", "ShadowProductionVariants"):
        variants = refs.get(field)
        for variant in variants if isinstance(variants, list) else []:
            name = _text(variant, "ModelName")
            if name and name not in names:
                names.append(name)
    return tuple(names)
