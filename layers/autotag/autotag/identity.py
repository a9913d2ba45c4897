"""Who made a Create* call: a pure reading of `userIdentity` and Studio's system tags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Any, Final

PROFILE_ARN_TAG: Final = "sagemaker:user-profile-arn"
DOMAIN_ARN_TAG: Final = "sagemaker:domain-arn"
SSO_ROLE_PREFIX: Final = "AWSReservedSSO_"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Session names that SDKs, CI systems and AWS services choose: they name no person.
_ANONYMOUS_SESSIONS: Final = frozenset(
    name.casefold()
    for name in (
        "SageMaker",
        "AmazonSageMaker",
        "GitHubActions",
        "github-actions",
        "AWSCloudFormation",
        "codebuild",
        "CodePipeline",
        "botocore",
        "boto3",
        "default",
        "session",
        "terraform",
        "lambda",
        "SageMakerStudio",
        "GlueJobRunnerSession",
        "AWSCodeBuild",
        "AWSCodePipeline",
    )
)
# Compiled on first use: the import stays cheap for the cold start.
_ANONYMOUS_PATTERNS: Final = (
    r"^(botocore|boto3|aws-go-sdk|aws-sdk-[a-z]+|aws-cli)-?session-?\d*$",
    r"^(aws-go-sdk|aws-sdk-[a-z]+)-\d+$",
    r"^i-[0-9a-f]{8,17}$",  # EC2 instance profile sessions
    r"^[0-9]+$",
    r"^[0-9a-f-]{16,}$",  # UUIDs and hex ids
    # a tool's name and a run id: AWSCodeBuild-8f2c3a1e-..., terraform-20240601123000
    r"^[A-Za-z][A-Za-z0-9]*[-_.](?=[0-9a-f-]*\d)[0-9a-f-]{8,}$",
)


@cache
def _anonymous() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in _ANONYMOUS_PATTERNS), re.IGNORECASE)


class PrincipalKind(StrEnum):
    STUDIO_USER = "studio-user-profile"
    SSO_USER = "sso-user"
    IAM_USER = "iam-user"
    ROLE_SESSION = "role-session"  # an assumed role whose session name names a person
    ROLE = "role"  # an assumed role whose session name names nobody (CI, execution roles)
    OWNER_TAG = "owner-tag"  # no event names the creator; the resource's `Owner` tag does
    SERVICE = "aws-service"
    ROOT = "root"
    UNKNOWN = "unknown"


PERSON_KINDS: Final = frozenset(
    {
        PrincipalKind.STUDIO_USER,
        PrincipalKind.SSO_USER,
        PrincipalKind.IAM_USER,
        PrincipalKind.ROLE_SESSION,
        PrincipalKind.OWNER_TAG,
    }
)


@dataclass(frozen=True)
class Principal:
    """The creator as far as the event alone tells."""

    kind: PrincipalKind
    name: str
    via: str  # which part of the event named them
    lookup_keys: tuple[str, ...] = ()  # registry ids to try, most specific first
    email: str | None = None
    role_name: str | None = None
    profile_name: str | None = None
    profile_arn: str | None = None
    domain_id: str | None = None

    @property
    def is_person(self) -> bool:
        return self.kind in PERSON_KINDS


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


def names_someone(session_name: str) -> bool:
    """True when a role session name plausibly names a person rather than a tool."""
    if not session_name or session_name.casefold() in _ANONYMOUS_SESSIONS:
        return False
    return _anonymous().match(session_name) is None


def _text(mapping: Any, *path: str) -> str | None:
    for key in path:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping if isinstance(mapping, str) and mapping else None


def _domain_id(arn: str | None) -> str | None:
    """`...:domain/d-abc` -> `d-abc`; `...:user-profile/d-abc/alice` -> `d-abc`."""
    if not arn or "/" not in arn:
        return None
    return arn.split("/")[1] or None


def _studio_user(
    name: str, via: str, request_tags: Mapping[str, str], role: str | None
) -> Principal:
    profile_arn = request_tags.get(PROFILE_ARN_TAG)
    if profile_arn and profile_arn.rsplit("/", 1)[-1].casefold() != name.casefold():
        profile_arn = None  # the tag names another profile than sourceIdentity: trust neither
    domain_id = _domain_id(profile_arn) or _domain_id(request_tags.get(DOMAIN_ARN_TAG))
    return Principal(
        kind=PrincipalKind.STUDIO_USER,
        name=name,
        via=via,
        lookup_keys=tuple(key for key in (name, role) if key),
        email=name if is_email(name) else None,
        role_name=role,
        profile_name=name,
        profile_arn=profile_arn,
        domain_id=domain_id,
    )


def who(user_identity: Mapping[str, Any], request_tags: Mapping[str, str]) -> Principal:
    """Name the creator, most trustworthy evidence first."""
    kind = _text(user_identity, "type")
    arn = _text(user_identity, "arn") or ""
    role = _text(user_identity, "sessionContext", "sessionIssuer", "userName")
    source_identity = _text(user_identity, "sessionContext", "sourceIdentity")
    if source_identity:
        return _studio_user(source_identity, "sourceIdentity", request_tags, role)
    profile_arn = request_tags.get(PROFILE_ARN_TAG)
    if profile_arn and "/" in profile_arn:
        return _studio_user(profile_arn.rsplit("/", 1)[-1], PROFILE_ARN_TAG, request_tags, role)
    invoked_by = _text(user_identity, "invokedBy")
    if kind == "AWSService" or (kind is None and invoked_by):
        return Principal(PrincipalKind.SERVICE, invoked_by or "aws-service", "AWS service")
    if kind == "IAMUser":
        user = _text(user_identity, "userName") or arn.rsplit("/", 1)[-1]
        if user:
            email = user if is_email(user) else None
            return Principal(PrincipalKind.IAM_USER, user, "IAM user", (user,), email=email)
    if kind == "Root":
        return Principal(PrincipalKind.ROOT, "root", "root user", ("root",))
    if kind == "AssumedRole" and ":assumed-role/" in arn:
        role = role or arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
        session = arn.rsplit("/", 1)[-1]
        email = session if is_email(session) else None
        if role.startswith(SSO_ROLE_PREFIX):
            return Principal(
                PrincipalKind.SSO_USER, session, "SSO session", (session,), email, role
            )
        if names_someone(session):
            return Principal(
                PrincipalKind.ROLE_SESSION, session, "role session", (session, role), email, role
            )
        if invoked_by:  # a service acting with a role that names nobody
            return Principal(PrincipalKind.SERVICE, invoked_by, "invokedBy", role_name=role)
        return Principal(PrincipalKind.ROLE, role, "role", (role,), role_name=role)
    if kind == "FederatedUser":
        user = (_text(user_identity, "principalId") or "").rsplit(":", 1)[-1]
        if user:
            email = user if is_email(user) else None
            return Principal(PrincipalKind.ROLE_SESSION, user, "federated user", (user,), email)
    return Principal(PrincipalKind.UNKNOWN, arn or "unknown", "nothing usable in userIdentity")


def from_created_by(created_by: Mapping[str, Any]) -> Principal | None:
    """The person in a `CreatedBy` (DescribePipelineExecution and others), else None."""
    profile = _text(created_by, "UserProfileName")
    if profile:
        arn = _text(created_by, "UserProfileArn")
        tags = {PROFILE_ARN_TAG: arn} if arn else {}
        principal = _studio_user(profile, "the pipeline's starter", tags, None)
        domain = _text(created_by, "DomainId")
        if domain and principal.domain_id is None:
            principal = replace(principal, domain_id=domain)
        return principal
    source_identity = _text(created_by, "IamIdentity", "SourceIdentity")
    arn = _text(created_by, "IamIdentity", "Arn")
    if not source_identity and not arn:
        return None
    kind = "AssumedRole" if arn and ":assumed-role/" in arn else "IAMUser"
    identity: dict[str, Any] = {"type": kind, "arn": arn or ""}
    if source_identity:
        identity["sessionContext"] = {"sourceIdentity": source_identity}
    principal = who(identity, {})
    return principal if principal.kind is not PrincipalKind.UNKNOWN else None


def studio_user(profile: str, domain_id: str | None, via: str) -> Principal:
    """The Studio user behind a user-profile name (an app's or a space's owner)."""
    principal = _studio_user(profile, via, {}, None)
    return replace(principal, domain_id=domain_id) if domain_id else principal


def from_owner_tag(owner: str) -> Principal:
    """The person a resource's `Owner` tag names (the sweep and drift know no creator)."""
    email = owner if is_email(owner) else None
    return Principal(PrincipalKind.OWNER_TAG, owner, "its Owner tag", (owner,), email)
