"""Every supported SageMaker resource of the account, page by page, with its tags.

Kinds `Search` returns with their tags (training and tuning jobs, endpoints, pipelines) are read
100 a page in one call; the others are listed (100 a page) and their tags read with one ListTags
each. Spaces and apps are listed without their ARN, so each is described once. Resources in every
status are included: a finished job still carries the cost it ran up.

The walk can stop after any page and start again from a `Position`: the sweep saves it before
its timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from botocore.exceptions import ClientError

from autotag.aws import error_code
from autotag.events import SUPPORTED, EventSpec, ResourceArn, tag_map
from autotag.sagemaker import ResourceMissingError, ResourceTags, describe

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

PAGE_SIZE: Final = 100  # the most Search and every List* return at once


class Listing(NamedTuple):
    operation: str  # the boto3 method; "search" for the searchable kinds
    result_key: str  # where the page's items are
    described_by: str = ""  # the Describe method giving the ARN when the listing lacks it

    @property
    def actions(self) -> tuple[str, ...]:
        """The API operations (and IAM actions) the listing calls: `ListAutoMLJobs`."""
        methods = (self.operation, self.described_by) if self.described_by else (self.operation,)
        return tuple(
            "".join("ML" if part == "ml" else part.title() for part in method.split("_"))
            for method in methods
        )


# How each kind is listed: one entry per kind of SUPPORTED (a test says so).
LISTINGS: Final[Mapping[str, Listing]] = {
    "training-job": Listing("search", "Results"),
    "processing-job": Listing("list_processing_jobs", "ProcessingJobSummaries"),
    "transform-job": Listing("list_transform_jobs", "TransformJobSummaries"),
    "hyper-parameter-tuning-job": Listing("search", "Results"),
    "automl-job": Listing("list_auto_ml_jobs", "AutoMLJobSummaries"),
    "compilation-job": Listing("list_compilation_jobs", "CompilationJobSummaries"),
    "model": Listing("list_models", "Models"),
    "endpoint-config": Listing("list_endpoint_configs", "EndpointConfigs"),
    "endpoint": Listing("search", "Results"),
    "inference-component": Listing("list_inference_components", "InferenceComponents"),
    "notebook-instance": Listing("list_notebook_instances", "NotebookInstances"),
    "pipeline": Listing("search", "Results"),
    "monitoring-schedule": Listing("list_monitoring_schedules", "MonitoringScheduleSummaries"),
    "labeling-job": Listing("list_labeling_jobs", "LabelingJobSummaryList"),
    "space": Listing("list_spaces", "Spaces", "describe_space"),
    "app": Listing("list_apps", "Apps", "describe_app"),
    "cluster": Listing("list_clusters", "ClusterSummaries"),
    "mlflow-tracking-server": Listing("list_mlflow_tracking_servers", "TrackingServerSummaries"),
    "feature-group": Listing("search", "Results"),
    "optimization-job": Listing("list_optimization_jobs", "OptimizationJobSummaries"),
    "inference-recommendations-job": Listing(
        "list_inference_recommendations_jobs", "InferenceRecommendationsJobs"
    ),
    "training-plan": Listing("list_training_plans", "TrainingPlanSummaries"),
}

# Each kind once, in the order of SUPPORTED: the order of the walk.
KINDS: Final[tuple[EventSpec, ...]] = tuple(
    {spec.kind: spec for spec in reversed(SUPPORTED)}[kind]
    for kind in dict.fromkeys(spec.kind for spec in SUPPORTED)
)


class Position(NamedTuple):
    """Where a walk resumes: the kind, and the page token within it (None: its first page)."""

    kind: str
    token: str | None = None


FIRST: Final = Position(KINDS[0].kind)
_BY_KIND: Final = {spec.kind: spec for spec in KINDS}


class Found(NamedTuple):
    spec: EventSpec
    arn: ResourceArn
    name: str
    tags: dict[str, str]
    references: Mapping[str, Any]  # the listing's fields: parents, status, creation time
    created: str = ""


class Page(NamedTuple):
    found: list[Found]
    next: Position | None  # where to go on after this page; None: the walk is over
    calls: int  # AWS calls this page cost
    error: str = ""  # the kind could not be listed (denied, not offered here): why
    unreadable: tuple[str, ...] = ()  # listed resources whose tags or ARN could not be read


_THROTTLED: Final = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
    }
)
# A kind that cannot be listed here for good: denied, or not offered in this Region.
_UNLISTABLE: Final = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnknownOperationException",
        "InvalidAction",
        "ValidationException",
    }
)


def is_throttling(error: BaseException) -> bool:
    """Throttling, also when wrapped in another error (its cause)."""
    return error_code(error) in _THROTTLED or (
        error.__cause__ is not None and error_code(error.__cause__) in _THROTTLED
    )


def next_kind(kind: str) -> Position | None:
    """The first page of the kind after `kind`; None after the last."""
    order = [spec.kind for spec in KINDS]
    index = order.index(kind) + 1
    return Position(order[index]) if index < len(order) else None


def _created(item: Mapping[str, Any]) -> str:
    value = item.get("CreationTime")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else ""


# What identifies a listed space or app to its Describe call: (required, optional) fields.
_IDENTIFIED_BY: Final = {
    "describe_space": (("DomainId", "SpaceName"), ()),
    "describe_app": (("DomainId", "AppType", "AppName"), ("UserProfileName", "SpaceName")),
}


class Inventory:
    permissions: Final = tuple(
        sorted({f"sagemaker:{action}" for v in LISTINGS.values() for action in v.actions})
    )

    def __init__(self, client: SageMakerClient, tags: ResourceTags) -> None:
        self._client = client
        self._tags = tags

    def pages(self, start: Position = FIRST) -> Iterator[Page]:
        """Every page from `start` to the end."""
        position: Position | None = start
        while position is not None:
            page = self.page(position)
            yield page
            position = page.next

    def page(self, position: Position) -> Page:
        """One page: up to 100 resources of one kind."""
        spec = _BY_KIND.get(position.kind)
        if spec is None:  # saved by an older version that knew another kind: start over
            return Page([], FIRST, 0, f"{position.kind}: not a supported kind")
        token = position.token
        listing = LISTINGS[spec.kind]
        kwargs: dict[str, Any] = {"MaxResults": PAGE_SIZE}
        if token:
            kwargs["NextToken"] = token
        if listing.operation == "search":
            kwargs["Resource"] = spec.member
        try:
            response: Mapping[str, Any] = getattr(self._client, listing.operation)(**kwargs)
        except ClientError as error:
            if token or error_code(error) not in _UNLISTABLE:
                raise  # a stale token, or trouble that may pass: the caller decides
            # This kind cannot be listed here (denied, or not offered in the Region): go on.
            return Page([], next_kind(spec.kind), 1, f"{spec.kind}: {error}")
        calls = 1
        found: list[Found] = []
        unreadable: list[str] = []
        for raw in response.get(listing.result_key, []):
            item = raw.get(spec.member, {}) if listing.operation == "search" else raw
            try:
                resolved, cost = self._found(spec, listing, item)
            except ClientError as error:
                if is_throttling(error):
                    raise
                # One listed resource that cannot be read (a deny on its ARN): noted, passed.
                unreadable.append(f"{item.get(f'{spec.member}Name', '?')}: {error}")
                calls += 1
                continue
            calls += cost
            if resolved is not None:
                found.append(resolved)
        next_token = response.get("NextToken")
        after = Position(spec.kind, next_token) if next_token else next_kind(spec.kind)
        return Page(found, after, calls, unreadable=tuple(unreadable))

    def _found(
        self, spec: EventSpec, listing: Listing, item: Mapping[str, Any]
    ) -> tuple[Found | None, int]:
        """The item with its ARN and tags, and the calls that took; None if it is gone."""
        calls = 0
        arn_text = item.get(f"{spec.member}Arn")
        try:
            if not arn_text and listing.described_by:
                calls += 1
                arn_text = self._describe(listing.described_by, item).get(f"{spec.member}Arn")
            arn = ResourceArn.parse(str(arn_text or ""))
            if arn is None:
                return None, calls
            if listing.operation == "search":
                tags = tag_map(item.get("Tags"))
            else:
                calls += 1
                tags = self._tags.read(arn.arn)
        except ResourceMissingError:
            return None, calls
        name = item.get(f"{spec.member}Name")
        found = Found(
            spec=spec,
            arn=arn,
            name=name if isinstance(name, str) and name else arn.name,
            tags=tags,
            references=item,
            created=_created(item),
        )
        return found, calls

    def _describe(self, method: str, item: Mapping[str, Any]) -> Mapping[str, Any]:
        """DescribeSpace or DescribeApp with the listing's identifying fields."""
        required, optional = _IDENTIFIED_BY[method]
        if not all(isinstance(item.get(key), str) and item[key] for key in required):
            raise ResourceMissingError(f"{method}: the listing lacks one of {required}")
        kwargs = {key: item[key] for key in (*required, *optional) if item.get(key)}
        return describe(getattr(self._client, method), **kwargs)
