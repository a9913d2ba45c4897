"""The supported SageMaker Create* calls, and the parsing of every event that reaches the tagger.

`SUPPORTED` is the one table of supported events: the rule patterns in `template.yaml`, the
README's table, the IAM resources and the sweep's listing all agree with it (tests say so).

Four kinds of event reach the same resolution and writer, each parsed into a `Subject`:
a person's Create* call (CloudTrail "AWS API Call"), a Create* call SageMaker made itself (a
tuning job's training jobs: "AWS Service Event"), SageMaker's own state-change events (the
safety net for lost CloudTrail events) and DeleteTags calls (drift). The sweep makes Subjects of
the resources it finds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple


class Phase(StrEnum):
    PREPROCESSING = "Preprocessing"
    TRAINING = "Training"
    INFERENCE = "Inference"
    DEVELOPMENT = "Development"


class EventSpec(NamedTuple):
    """One supported CloudTrail eventName."""

    event_name: str
    arn_field: str  # the new resource's ARN in responseElements
    kind: str  # the resource type as it appears in the ARN
    phase: Phase
    state_change: str = ""  # the detail-type of SageMaker's own state-change events, if any
    searchable: bool = False  # `Search` returns this kind with its tags (the sweep's bulk read)

    @property
    def name_field(self) -> str:
        """The request parameter holding the resource's name (original casing)."""
        return self.arn_field.removesuffix("Arn") + "Name"

    @property
    def member(self) -> str:
        """The API's name for the kind: `TrainingJob` (Search's resource, Describe's fields)."""
        return pascal(self.arn_field.removesuffix("Arn"))


SUPPORTED: Final[tuple[EventSpec, ...]] = (
    EventSpec(
        "CreateTrainingJob",
        "trainingJobArn",
        "training-job",
        Phase.TRAINING,
        "SageMaker Training Job State Change",
        searchable=True,
    ),
    EventSpec(
        "CreateProcessingJob",
        "processingJobArn",
        "processing-job",
        Phase.PREPROCESSING,
        "SageMaker Processing Job State Change",
    ),
    EventSpec(
        "CreateTransformJob",
        "transformJobArn",
        "transform-job",
        Phase.INFERENCE,
        "SageMaker Transform Job State Change",
    ),
    EventSpec(
        "CreateHyperParameterTuningJob",
        "hyperParameterTuningJobArn",
        "hyper-parameter-tuning-job",
        Phase.TRAINING,
        "SageMaker HyperParameter Tuning Job State Change",
        searchable=True,
    ),
    EventSpec("CreateAutoMLJob", "autoMLJobArn", "automl-job", Phase.TRAINING),
    EventSpec("CreateAutoMLJobV2", "autoMLJobArn", "automl-job", Phase.TRAINING),
    EventSpec("CreateCompilationJob", "compilationJobArn", "compilation-job", Phase.TRAINING),
    EventSpec("CreateModel", "modelArn", "model", Phase.INFERENCE),
    EventSpec("CreateEndpointConfig", "endpointConfigArn", "endpoint-config", Phase.INFERENCE),
    EventSpec(
        "CreateEndpoint",
        "endpointArn",
        "endpoint",
        Phase.INFERENCE,
        "SageMaker Endpoint State Change",
        searchable=True,
    ),
    EventSpec(
        "CreateInferenceComponent",
        "inferenceComponentArn",
        "inference-component",
        Phase.INFERENCE,
    ),
    EventSpec(
        "CreateNotebookInstance", "notebookInstanceArn", "notebook-instance", Phase.DEVELOPMENT
    ),
    EventSpec("CreatePipeline", "pipelineArn", "pipeline", Phase.TRAINING, searchable=True),
    EventSpec(
        "CreateMonitoringSchedule",
        "monitoringScheduleArn",
        "monitoring-schedule",
        Phase.INFERENCE,
    ),
    EventSpec("CreateLabelingJob", "labelingJobArn", "labeling-job", Phase.PREPROCESSING),
    EventSpec("CreateSpace", "spaceArn", "space", Phase.DEVELOPMENT),
    EventSpec("CreateApp", "appArn", "app", Phase.DEVELOPMENT),
    # A HyperPod cluster's ARN ends in its id, not its name (the request names it).
    EventSpec(
        "CreateCluster",
        "clusterArn",
        "cluster",
        Phase.TRAINING,
        "SageMaker HyperPod Cluster State Change",
    ),
    EventSpec(
        "CreateMlflowTrackingServer",
        "trackingServerArn",
        "mlflow-tracking-server",
        Phase.DEVELOPMENT,
    ),
    EventSpec(
        "CreateFeatureGroup",
        "featureGroupArn",
        "feature-group",
        Phase.PREPROCESSING,
        "SageMaker Feature Group State Change",
        searchable=True,
    ),
    EventSpec("CreateOptimizationJob", "optimizationJobArn", "optimization-job", Phase.INFERENCE),
    EventSpec(
        "CreateInferenceRecommendationsJob",
        "jobArn",
        "inference-recommendations-job",
        Phase.INFERENCE,
    ),
    EventSpec("CreateTrainingPlan", "trainingPlanArn", "training-plan", Phase.TRAINING),
)

BY_NAME: Final[Mapping[str, EventSpec]] = {spec.event_name: spec for spec in SUPPORTED}
# The first spec of each kind (AutoML v1 and v2 make the same kind).
BY_KIND: Final[Mapping[str, EventSpec]] = {spec.kind: spec for spec in reversed(SUPPORTED)}
BY_STATE_CHANGE: Final[Mapping[str, EventSpec]] = {
    spec.state_change: spec for spec in SUPPORTED if spec.state_change
}

SOURCE: Final = "aws.sagemaker"
DETAIL_TYPE: Final = "AWS API Call via CloudTrail"
SERVICE_DETAIL_TYPE: Final = "AWS Service Event via CloudTrail"
DELETE_TAGS: Final = "DeleteTags"


class Trigger(StrEnum):
    """What brought a resource to the tagger."""

    CREATE = "create"  # a Create* call (CloudTrail)
    SERVICE = "service"  # a Create* call SageMaker made on someone's behalf (CloudTrail)
    STATE_CHANGE = "state-change"  # SageMaker's own event about the resource
    DRIFT = "drift"  # someone removed tags (DeleteTags, CloudTrail)
    SWEEP = "sweep"  # the reconciling sweep or `autotag audit --fix` found it


def pascal(name: str) -> str:
    """`trainingJobArn` -> `TrainingJobArn`: CloudTrail's member names to the API's."""
    return name[:1].upper() + name[1:]


def api_shape(value: Any) -> Any:
    """CloudTrail's lower-camel request or response, with the API's member names (recursive)."""
    if isinstance(value, Mapping):
        return {pascal(str(k)): api_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [api_shape(v) for v in value]
    return value


_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>[a-z-]+)/(?P<name>\S+)$"
)


class SkipEventError(Exception):
    """An event the tagger will not act on. It is logged and counted, never retried."""

    metric: str = "EventsSkipped"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnparseableEventError(SkipEventError):
    metric = "EventsUnparseable"


class UnsupportedEventError(SkipEventError):
    metric = "EventsUnsupported"


class FailedCallError(SkipEventError):
    metric = "EventsFailedCall"


class ForeignEventError(SkipEventError):
    """An event from an account or Region this deployment does not serve."""

    metric = "EventsForeign"


class ResourceArn(NamedTuple):
    arn: str
    partition: str
    region: str
    account: str
    kind: str
    name: str  # everything after "<kind>/": one or more segments

    @classmethod
    def parse(cls, arn: str) -> ResourceArn | None:
        match = _ARN.match(arn)
        if match is None:
            return None
        return cls(arn=arn, **match.groupdict())


@dataclass(frozen=True)
class Subject:
    """One resource the tagger is asked to look at, and what the trigger tells about it."""

    event_id: str  # what makes the request unique: each is handled once
    spec: EventSpec  # the resource's kind; its Create call for the notice's example
    resource: ResourceArn
    resource_name: str
    request_tags: Mapping[str, str]  # tags the trigger carried (request, event, or Search)
    user_identity: Mapping[str, Any]  # the creator's CloudTrail identity; empty when unknown
    event_time: str = ""
    accounts: frozenset[str] = frozenset()  # every account the event names
    regions: frozenset[str] = frozenset()  # every Region the event names
    trigger: Trigger = Trigger.CREATE
    action: str = ""  # the eventName or detail-type, when it is not the spec's Create call
    references: Mapping[str, Any] = field(default_factory=dict)  # API-named fields: parents
    actor: Mapping[str, Any] = field(default_factory=dict)  # drift: who removed the tags
    removed: tuple[str, ...] = ()  # drift: the keys removed

    @property
    def event_name(self) -> str:
        return self.action or self.spec.event_name


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnparseableEventError(f"{where} is not an object")
    return value


def _text(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise UnparseableEventError(f"{where}.{key} is missing or not a string")
    return value


def request_tags(params: Mapping[str, Any]) -> dict[str, str]:
    """Tags from `requestParameters.tags` ({key, value} in CloudTrail; {Key, Value} tolerated).

    Malformed entries are dropped: the resource's own tags (ListTags) are what count.
    """
    raw = params.get("tags")
    tags: dict[str, str] = {}
    if not isinstance(raw, list):
        return tags
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        key = item.get("key", item.get("Key"))
        value = item.get("value", item.get("Value", ""))
        if isinstance(key, str) and key and isinstance(value, str):
            tags[key] = value
    return tags


def parse(event: Any) -> Subject:
    """Validate an EventBridge event; raise a SkipEventError naming the fault."""
    envelope = _object(event, "the event")
    if envelope.get("source") != SOURCE:
        raise UnparseableEventError(f"source is {envelope.get('source')!r}, not {SOURCE!r}")
    detail_type = envelope.get("detail-type")
    detail = _object(envelope.get("detail"), "detail")
    if detail_type in (DETAIL_TYPE, SERVICE_DETAIL_TYPE):
        return _cloudtrail(envelope, detail, service=detail_type == SERVICE_DETAIL_TYPE)
    spec = BY_STATE_CHANGE.get(str(detail_type))
    if spec is not None:
        return _state_change(envelope, detail, spec)
    expected = ", ".join(repr(t) for t in (DETAIL_TYPE, SERVICE_DETAIL_TYPE, *BY_STATE_CHANGE))
    raise UnparseableEventError(f"detail-type is {detail_type!r}, not one of {expected}")


def _resource(arn: str, spec: EventSpec | None = None) -> ResourceArn:
    resource = ResourceArn.parse(arn)
    if resource is None or (spec is not None and resource.kind != spec.kind):
        what = f"SageMaker {spec.kind}" if spec else "SageMaker resource"
        raise UnparseableEventError(f"{arn!r} is not a {what} ARN")
    return resource


_NO_ARN: Final = ResourceArn("", "", "", "", "", "")


def _cloudtrail(
    envelope: Mapping[str, Any], detail: Mapping[str, Any], *, service: bool
) -> Subject:
    name = _text(detail, "eventName", "detail")
    if detail.get("errorCode"):
        raise FailedCallError(f"{name} failed with {detail['errorCode']}")
    if name == DELETE_TAGS and not service:
        return _drift(envelope, detail)
    spec = BY_NAME.get(name)
    if spec is None:
        raise UnsupportedEventError(f"{name} is not a supported event")
    event_id = _text(detail, "eventID", "detail")
    params = detail.get("requestParameters")
    params = params if isinstance(params, Mapping) else {}
    response = detail.get("responseElements")
    # A service event may carry the ARN elsewhere than responseElements.
    listed = detail.get("resources")
    found: list[str] = [
        part[field]
        for part, field in (
            (response, spec.arn_field),
            (detail.get("serviceEventDetails"), spec.arn_field),
            *((item, "ARN") for item in (listed if isinstance(listed, list) else [])),
        )
        if isinstance(part, Mapping) and isinstance(part.get(field), str)
    ]
    if not found:
        raise UnparseableEventError(f"detail.responseElements.{spec.arn_field} is missing")
    # `resources` may name a parent (the tuning job) too: take the ARN of the created kind.
    matching = [arn for arn in found if (ResourceArn.parse(arn) or _NO_ARN).kind == spec.kind]
    resource = _resource((matching or found)[0], spec)
    raw_identity = detail.get("userIdentity")
    if service and raw_identity is None:
        raw_identity = {}  # SageMaker acting on its own may name nobody
    identity = _object(raw_identity, "detail.userIdentity")
    display_name = params.get(spec.name_field)
    references = api_shape({**params, **(response if isinstance(response, Mapping) else {})})
    return Subject(
        event_id=event_id,
        spec=spec,
        resource=resource,
        resource_name=display_name if isinstance(display_name, str) else resource.name,
        request_tags=request_tags(params),
        user_identity=identity,
        event_time=str(detail.get("eventTime", "")),
        accounts=_named(
            resource.account, envelope.get("account"), detail.get("recipientAccountId")
        ),
        regions=_named(resource.region, envelope.get("region"), detail.get("awsRegion")),
        trigger=Trigger.SERVICE if service else Trigger.CREATE,
        references=references,
    )


def _drift(envelope: Mapping[str, Any], detail: Mapping[str, Any]) -> Subject:
    """DeleteTags: the resource, the keys removed and who removed them."""
    event_id = _text(detail, "eventID", "detail")
    params = _object(detail.get("requestParameters"), "detail.requestParameters")
    resource = _resource(_text(params, "resourceArn", "detail.requestParameters"))
    spec = BY_KIND.get(resource.kind)
    if spec is None:
        raise UnsupportedEventError(f"DeleteTags on a {resource.kind}: not a supported kind")
    keys = params.get("tagKeys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise UnparseableEventError("detail.requestParameters.tagKeys is not a list of keys")
    return Subject(
        event_id=event_id,
        spec=spec,
        resource=resource,
        resource_name=resource.name,
        request_tags={},
        user_identity={},
        event_time=str(detail.get("eventTime", "")),
        accounts=_named(
            resource.account, envelope.get("account"), detail.get("recipientAccountId")
        ),
        regions=_named(resource.region, envelope.get("region"), detail.get("awsRegion")),
        trigger=Trigger.DRIFT,
        action=DELETE_TAGS,
        actor=_object(detail.get("userIdentity"), "detail.userIdentity"),
        removed=tuple(keys),
    )


def _state_change(
    envelope: Mapping[str, Any], detail: Mapping[str, Any], spec: EventSpec
) -> Subject:
    """SageMaker's own event: the resource and its tags, no creator."""
    event_id = _text(envelope, "id", "the event")
    resource = _resource(_text(detail, pascal(spec.arn_field), "detail"), spec)
    name = detail.get(pascal(spec.name_field))
    return Subject(
        event_id=event_id,
        spec=spec,
        resource=resource,
        resource_name=name if isinstance(name, str) and name else resource.name,
        request_tags=tag_map(detail.get("Tags")),
        user_identity={},
        event_time=str(envelope.get("time", "")),
        accounts=_named(resource.account, envelope.get("account")),
        regions=_named(resource.region, envelope.get("region")),
        trigger=Trigger.STATE_CHANGE,
        action=str(envelope.get("detail-type")),
        references=detail,
    )


def tag_map(raw: Any) -> dict[str, str]:
    """Tags as {key: value}, from a map or from a list of {Key, Value} (or {key, value})."""
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items() if k and isinstance(v, str)}
    return request_tags({"tags": raw})


def _named(*values: Any) -> frozenset[str]:
    return frozenset(str(value) for value in values if value)


def check_origin(call: Subject, accounts: frozenset[str], regions: frozenset[str]) -> None:
    """Refuse an event that names an account or Region outside the allow-lists (empty: any)."""
    foreign_accounts = sorted(call.accounts - accounts) if accounts else []
    foreign_regions = sorted(call.regions - regions) if regions else []
    if foreign_accounts or foreign_regions:
        named = ", ".join(foreign_accounts + foreign_regions)
        raise ForeignEventError(f"{call.event_name} names {named}, outside this deployment")
