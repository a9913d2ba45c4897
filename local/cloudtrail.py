"""A stand-in for CloudTrail: each SageMaker call made through a recorded client becomes the
EventBridge event CloudTrail would deliver for it ("AWS API Call via CloudTrail").

The record follows the shapes SageMaker really logs: member names with a lower-case
first letter (map keys left alone), request tags as `{key, value}`, the response in
`responseElements`, `errorCode`/`errorMessage` and a null `responseElements` on a failed call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from local import cloudtrail_lookup

if TYPE_CHECKING:
    import boto3
    from botocore.model import Shape
    from mypy_boto3_sagemaker import SageMakerClient

ACCOUNT: Final = "123456789012"
_PARAMS_KEY: Final = "cloudtrail_request_parameters"


@dataclass(frozen=True)
class Actor:
    """Someone who calls SageMaker, as CloudTrail records them."""

    label: str  # how the demo introduces them
    identity: dict[str, Any]  # CloudTrail's userIdentity
    source_ip: str = "203.0.113.10"
    user_agent: str = "Boto3/1.34.101 md/Botocore#1.34.101 AWS-SageMaker-Python-SDK/2.218.1"


def iam_user(name: str, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:17].upper()}",
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "userName": name,
    }


def assumed_role(
    role: str,
    session: str,
    *,
    path: str = "",
    source_identity: str | None = None,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    role_id = f"AROA{uuid.uuid5(uuid.NAMESPACE_DNS, role).hex[:17].upper()}"
    context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role_id,
            "arn": f"arn:aws:iam::{account}:role/{path}{role}",
            "accountId": account,
            "userName": role,
        },
        "attributes": {"mfaAuthenticated": "false"},
    }
    if source_identity:
        context["sourceIdentity"] = source_identity
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "sessionContext": context,
    }


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def cloudtrail_shape(value: Any, shape: Shape | None) -> Any:
    """`value` as CloudTrail logs it: structure members lower-camel-cased, map keys kept."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {
            _lower_first(key): cloudtrail_shape(item, members.get(key))
            for key, item in value.items()
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [cloudtrail_shape(item, shape.member) for item in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: cloudtrail_shape(item, shape.value) for key, item in value.items()}  # type: ignore[attr-defined]
    if shape.type_name == "timestamp" and isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass
class CloudTrail:
    """Hands out SageMaker clients whose calls are recorded as CloudTrail events."""

    session: boto3.Session
    endpoint: str
    region: str = "us-east-1"
    account: str = ACCOUNT
    events: list[dict[str, Any]] = field(default_factory=list)

    def client(self, actor: Actor) -> SageMakerClient:
        client = self.session.client("sagemaker", endpoint_url=self.endpoint)
        client.meta.events.register("provide-client-params.sagemaker.*", self._keep_params)
        client.meta.events.register(
            "after-call.sagemaker.*",
            lambda **kwargs: self._record(actor, **kwargs),
        )
        return client

    def take(self) -> list[dict[str, Any]]:
        """The events recorded since the last call."""
        taken, self.events = self.events, []
        return taken

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = dict(params)

    def _record(
        self,
        actor: Actor,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        error = parsed.get("Error") or {}
        response = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        detail: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": actor.identity,
            "eventTime": now,
            "eventSource": "sagemaker.amazonaws.com",
            "eventName": model.name,
            "awsRegion": self.region,
            "sourceIPAddress": actor.source_ip,
            "userAgent": actor.user_agent,
            "requestParameters": cloudtrail_shape(context.get(_PARAMS_KEY, {}), model.input_shape),
            "responseElements": None if error else cloudtrail_shape(response, model.output_shape),
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": model.name.startswith(("Describe", "List", "Get", "Search")),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.account,
            "eventCategory": "Management",
        }
        if error:
            detail["errorCode"] = error.get("Code", "Unknown")
            detail["errorMessage"] = error.get("Message", "")
        if not detail["readOnly"]:
            # CloudTrail keeps the call in its event history even when EventBridge never
            # delivers it: `LookupEvents` finds it.
            cloudtrail_lookup.seed(detail)
        self.events.append(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "AWS API Call via CloudTrail",
                "source": "aws.sagemaker",
                "account": self.account,
                "time": now,
                "region": self.region,
                "resources": [],
                "detail": detail,
            }
        )
