"""The supported SageMaker Create* calls and the parsing of their CloudTrail events.

`SUPPORTED` is the one table of supported events: the rule pattern in `template.yaml`, the
README's table and the IAM resources all agree with it (tests say so).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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

    @property
    def name_field(self) -> str:
        """The request parameter holding the resource's name (original casing)."""
        return self.arn_field.removesuffix("Arn") + "Name"


SUPPORTED: Final[tuple[EventSpec, ...]] = (
    EventSpec("CreateTrainingJob", "trainingJobArn", "training-job", Phase.TRAINING),
    EventSpec("CreateProcessingJob", "processingJobArn", "processing-job", Phase.PREPROCESSING),
    EventSpec("CreateTransformJob", "transformJobArn", "transform-job", Phase.INFERENCE),
    EventSpec(
        "CreateHyperParameterTuningJob",
        "hyperParameterTuningJobArn",
        "hyper-parameter-tuning-job",
        Phase.TRAINING,
    ),
    EventSpec("CreateAutoMLJob", "autoMLJobArn", "automl-job", Phase.TRAINING),
    EventSpec("CreateAutoMLJobV2", "autoMLJobArn", "automl-job", Phase.TRAINING),
    EventSpec("CreateCompilationJob", "compilationJobArn", "compilation-job", Phase.TRAINING),
    EventSpec("CreateModel", "modelArn", "model", Phase.INFERENCE),
    EventSpec("CreateEndpointConfig", "endpointConfigArn", "endpoint-config", Phase.INFERENCE),
    EventSpec("CreateEndpoint", "endpointArn", "endpoint", Phase.INFERENCE),
    EventSpec(
        "CreateInferenceComponent",
        "inferenceComponentArn",
        "inference-component",
        Phase.INFERENCE,
    ),
    EventSpec(
        "CreateNotebookInstance", "notebookInstanceArn", "notebook-instance", Phase.DEVELOPMENT
    ),
    EventSpec("CreatePipeline", "pipelineArn", "pipeline", Phase.TRAINING),
    EventSpec(
        "CreateMonitoringSchedule",
        "monitoringScheduleArn",
        "monitoring-schedule",
        Phase.INFERENCE,
    ),
    EventSpec("CreateLabelingJob", "labelingJobArn", "labeling-job", Phase.PREPROCESSING),
    EventSpec("CreateSpace", "spaceArn", "space", Phase.DEVELOPMENT),
    EventSpec("CreateApp", "appArn", "app", Phase.DEVELOPMENT),
)

BY_NAME: Final[Mapping[str, EventSpec]] = {spec.event_name: spec for spec in SUPPORTED}

SOURCE: Final = "aws.sagemaker"
DETAIL_TYPE: Final = "AWS API Call via CloudTrail"

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
class CreateCall:
    """The parts of one successful Create* CloudTrail event that the tagger uses."""

    event_id: str
    spec: EventSpec
    resource: ResourceArn
    resource_name: str
    request_tags: Mapping[str, str]
    user_identity: Mapping[str, Any]
    event_time: str = ""
    accounts: frozenset[str] = frozenset()  # every account the event names
    regions: frozenset[str] = frozenset()  # every Region the event names

    @property
    def event_name(self) -> str:
        return self.spec.event_name


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


def parse(event: Any) -> CreateCall:
    """Validate an EventBridge-wrapped CloudTrail event; raise a SkipEventError naming the fault."""
    envelope = _object(event, "the event")
    if envelope.get("source") != SOURCE:
        raise UnparseableEventError(f"source is {envelope.get('source')!r}, not {SOURCE!r}")
    if envelope.get("detail-type") != DETAIL_TYPE:
        raise UnparseableEventError(
            f"detail-type is {envelope.get('detail-type')!r}, not {DETAIL_TYPE!r}"
        )
    detail = _object(envelope.get("detail"), "detail")
    name = _text(detail, "eventName", "detail")
    if detail.get("errorCode"):
        raise FailedCallError(f"{name} failed with {detail['errorCode']}")
    spec = BY_NAME.get(name)
    if spec is None:
        raise UnsupportedEventError(f"{name} is not a supported event")
    event_id = _text(detail, "eventID", "detail")
    response = _object(detail.get("responseElements"), "detail.responseElements")
    arn = _text(response, spec.arn_field, "detail.responseElements")
    resource = ResourceArn.parse(arn)
    if resource is None or resource.kind != spec.kind:
        raise UnparseableEventError(f"{arn!r} is not a SageMaker {spec.kind} ARN")
    params = detail.get("requestParameters")
    params = params if isinstance(params, Mapping) else {}
    identity = _object(detail.get("userIdentity"), "detail.userIdentity")
    display_name = params.get(spec.name_field)
    return CreateCall(
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
    )


def _named(*values: Any) -> frozenset[str]:
    return frozenset(str(value) for value in values if value)


def check_origin(call: CreateCall, accounts: frozenset[str], regions: frozenset[str]) -> None:
    """Refuse an event that names an account or Region outside the allow-lists (empty: any)."""
    foreign_accounts = sorted(call.accounts - accounts) if accounts else []
    foreign_regions = sorted(call.regions - regions) if regions else []
    if foreign_accounts or foreign_regions:
        named = ", ".join(foreign_accounts + foreign_regions)
        raise ForeignEventError(f"{call.event_name} names {named}, outside this deployment")
