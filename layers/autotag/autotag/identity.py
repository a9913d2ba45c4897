"""Who made a SageMaker resource: the trust order over CloudTrail's `userIdentity`. Pure.

Every signal has a trust level (docs/SECURITY.md, "Who made the call"):

- trusted: written by AWS, or cross-checked against SageMaker: an IAM user's `userName`; an
  IAM Identity Center role (path `/aws-reserved/sso.amazonaws.com/`); `onBehalfOf`;
  `sourceIdentity` or Studio's `sagemaker:user-profile-arn` request tag, only when the session's
  role is that profile's execution role; a role the registry maps; a pipeline execution's
  `CreatedBy`;
- claimed: any other role session name. The creator is then the role, unless the registry says
  an identity provider sets that role's session names (`policy.trusted_session_roles`);
- never: tags already on the resource, and request tags of a caller that is not the named Studio
  profile's execution role. They are kept on the resource but never name the creator.

`claims` reads what a record says; `who` decides, given what the caller gathered (the execution
roles of the Studio profile the record names, the roles whose session names are vouched for).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from autotag.sessions import SessionKind, classify

PROFILE_ARN_TAG: Final = "sagemaker:user-profile-arn"
DOMAIN_ARN_TAG: Final = "sagemaker:domain-arn"
# IAM Identity Center creates its roles under this path, and nobody else can (the path is
# reserved); a role merely named AWSReservedSSO_... elsewhere is an ordinary role.
SSO_ROLE_PATH: Final = ":role/aws-reserved/sso.amazonaws.com/"
ROOT: Final = "root"
SAGEMAKER_SERVICE: Final = "sagemaker.amazonaws.com"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROOT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d+:root$")


class Trust(StrEnum):
    TRUSTED = "trusted"  # written by AWS or cross-checked against SageMaker
    CLAIMED = "claimed"  # chosen by the caller: shown, never acted on


class PrincipalKind(StrEnum):
    STUDIO_USER = "studio-user-profile"
    SSO_USER = "sso-user"
    IDENTITY_CENTER_USER = "identity-center-user"  # onBehalfOf (trusted identity propagation)
    IAM_USER = "iam-user"
    ROLE_SESSION = "role-session"  # a session name an identity provider set (registry says so)
    ROLE = "role"  # an assumed role; its session name, if any, is only a claim
    FEDERATED_USER = "federated-user"  # GetFederationToken: the name is the caller's choice
    SERVICE = "aws-service"
    ROOT = "root"
    UNKNOWN = "unknown"


PERSON_KINDS: Final = frozenset(
    {
        PrincipalKind.STUDIO_USER,
        PrincipalKind.SSO_USER,
        PrincipalKind.IDENTITY_CENTER_USER,
        PrincipalKind.IAM_USER,
        PrincipalKind.ROLE_SESSION,
    }
)


@dataclass(frozen=True)
class Principal:
    """The creator, decided by the trust order."""

    kind: PrincipalKind
    name: str
    via: str  # which signal named them
    lookup_keys: tuple[str, ...] = ()  # registry ids to try, most specific first
    email: str | None = None
    role_name: str | None = None
    profile_name: str | None = None  # a verified Studio user profile
    profile_arn: str | None = None
    domain_id: str | None = None
    claimed: str | None = None  # what the caller claimed and was not believed
    account: str | None = None

    @property
    def is_person(self) -> bool:
        return self.kind in PERSON_KINDS

    @property
    def is_sagemaker(self) -> bool:
        """SageMaker itself made the resource (a tuning job's training jobs, a pipeline's
        steps): the parent's person is its creator."""
        return self.kind is PrincipalKind.SERVICE and self.name == SAGEMAKER_SERVICE

    @property
    def described(self) -> str:
        """`alice (sourceIdentity checked against the profile's execution role)`."""
        text = f"{self.name} ({self.via})"
        return f"{text}; claimed {self.claimed!r}, not believed" if self.claimed else text


@dataclass(frozen=True)
class StudioClaim:
    """The Studio user profile a record names: by `sourceIdentity` or the system request tag."""

    name: str
    domain_id: str | None
    via: str


@dataclass(frozen=True)
class Claims:
    """What a CloudTrail `userIdentity` (and the request's Studio system tags) say. Nothing in
    here is decided yet; `who` weighs it."""

    type: str | None = None
    arn: str = ""
    account: str | None = None
    user_name: str | None = None  # IAMUser
    role_name: str | None = None  # AssumedRole: sessionContext.sessionIssuer.userName
    role_arn: str | None = None  # ... .arn, with the role's path
    session: str | None = None  # the role session name (the caller's choice)
    source_identity: str | None = None
    on_behalf_of: str | None = None  # an IAM Identity Center user id
    invoked_by: str | None = None
    principal_id: str | None = None
    studio: StudioClaim | None = None

    @property
    def identity_center_role(self) -> bool:
        return self.role_arn is not None and SSO_ROLE_PATH in self.role_arn

    @property
    def empty(self) -> bool:
        return self.type is None and not self.arn and self.invoked_by is None


NO_CLAIMS: Final = Claims()


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


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


def _studio_claim(source_identity: str | None, tags: Mapping[str, str]) -> StudioClaim | None:
    profile_arn = tags.get(PROFILE_ARN_TAG)
    tagged = profile_arn.rsplit("/", 1)[-1] if profile_arn and profile_arn.count("/") >= 2 else None
    domain = _domain_id(profile_arn) or _domain_id(tags.get(DOMAIN_ARN_TAG))
    if source_identity:
        if tagged and tagged.casefold() != source_identity.casefold():
            domain = _domain_id(tags.get(DOMAIN_ARN_TAG))  # the tag names another profile
        return StudioClaim(source_identity, domain, "sourceIdentity")
    if tagged:
        return StudioClaim(tagged, domain, PROFILE_ARN_TAG)
    return None


def claims(user_identity: Mapping[str, Any], request_tags: Mapping[str, str]) -> Claims:
    """Read a `userIdentity` and the request's tags; decide nothing."""
    arn = _text(user_identity, "arn") or ""
    session = arn.rsplit("/", 1)[-1] if ":assumed-role/" in arn else None
    role = _text(user_identity, "sessionContext", "sessionIssuer", "userName")
    if role is None and ":assumed-role/" in arn:
        role = arn.split(":assumed-role/", 1)[1].split("/", 1)[0] or None
    source_identity = _text(user_identity, "sessionContext", "sourceIdentity")
    return Claims(
        type=_text(user_identity, "type"),
        arn=arn,
        account=_text(user_identity, "accountId"),
        user_name=_text(user_identity, "userName"),
        role_name=role,
        role_arn=_text(user_identity, "sessionContext", "sessionIssuer", "arn"),
        session=session,
        source_identity=source_identity,
        on_behalf_of=_text(user_identity, "onBehalfOf", "userId"),
        invoked_by=_text(user_identity, "invokedBy"),
        principal_id=_text(user_identity, "principalId"),
        studio=_studio_claim(source_identity, request_tags),
    )


def _email(name: str) -> str | None:
    return name if is_email(name) else None


def who(
    found: Claims,
    *,
    studio_roles: frozenset[str] = frozenset(),
    vouched_roles: frozenset[str] = frozenset(),
) -> Principal:
    """The creator, by the trust order.

    `studio_roles`: the execution roles (ARNs) of the Studio profile `found.studio` names, as
    SageMaker describes it (its own, or its domain's default); empty when not looked up.
    `vouched_roles`: roles whose session names an identity provider sets (folded names).
    """
    role = found.role_name
    account = found.account
    if found.on_behalf_of:
        user = found.on_behalf_of
        return Principal(
            PrincipalKind.IDENTITY_CENTER_USER,
            user,
            "onBehalfOf (IAM Identity Center)",
            (user,),
            role_name=role,
            account=account,
        )
    studio = found.studio
    if studio is not None and found.role_arn and found.role_arn in studio_roles:
        return Principal(
            PrincipalKind.STUDIO_USER,
            studio.name,
            f"{studio.via}, checked against the profile's execution role",
            tuple(key for key in (studio.name, role) if key),
            email=_email(studio.name),
            role_name=role,
            profile_name=studio.name,
            profile_arn=None,
            domain_id=studio.domain_id,
            account=account,
        )
    unbelieved = studio.name if studio is not None else None
    if found.type == "AWSService" or (found.type is None and found.invoked_by):
        return Principal(PrincipalKind.SERVICE, found.invoked_by or "aws-service", "AWS service")
    if found.type == "IAMUser":
        user = found.user_name or (found.arn.rsplit("/", 1)[-1] if ":user/" in found.arn else "")
        if user:
            return Principal(
                PrincipalKind.IAM_USER,
                user,
                "IAM user",
                (user,),
                _email(user),
                claimed=unbelieved,
                account=account,
            )
    if found.type == "Root" or _ROOT_ARN.match(found.arn):
        where = account or _arn_account(found.arn)
        return Principal(
            PrincipalKind.ROOT,
            ROOT,
            f"the root user of account {where}" if where else "the account's root user",
            account=where,
        )
    if found.type == "AssumedRole" and role:
        session = found.session or ""
        if found.identity_center_role and session:
            return Principal(
                PrincipalKind.SSO_USER,
                session,
                "IAM Identity Center",
                (session,),
                _email(session),
                role,
                account=account,
            )
        named = classify(session)
        if named.person is not None and role.casefold() in vouched_roles:
            return Principal(
                PrincipalKind.ROLE_SESSION,
                named.person,
                "role session set by an identity provider",
                (named.person, role),
                _email(named.person),
                role,
                account=account,
            )
        if found.invoked_by == SAGEMAKER_SERVICE:  # SageMaker acting with a role (a step)
            return Principal(PrincipalKind.SERVICE, found.invoked_by, "invokedBy", role_name=role)
        # Any other service (CloudFormation, ...) acts for the role's caller: the role made it.
        claimed = unbelieved or (named.person if named.kind is SessionKind.PERSON else None)
        return Principal(
            PrincipalKind.ROLE,
            role,
            "role",
            (role,),
            role_name=role,
            claimed=claimed,
            account=account,
        )
    if found.type == "FederatedUser":
        user = (found.principal_id or "").rsplit(":", 1)[-1]
        return Principal(
            PrincipalKind.FEDERATED_USER,
            found.arn or "federated user",
            "federated user",
            claimed=user or None,
            account=account,
        )
    return Principal(
        PrincipalKind.UNKNOWN, found.arn or "unknown", "nothing usable in userIdentity"
    )


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def from_created_by(created_by: Mapping[str, Any]) -> Principal | None:
    """The person in a `CreatedBy` (DescribePipelineExecution and others), else None. SageMaker
    records it: a user profile named there is trusted; an IAM identity goes through `who`."""
    profile = _text(created_by, "UserProfileName")
    if profile:
        arn = _text(created_by, "UserProfileArn")
        domain = _text(created_by, "DomainId") or _domain_id(arn)
        return studio_user(profile, domain, "the pipeline's starter (CreatedBy)", arn)
    arn = _text(created_by, "IamIdentity", "Arn")
    if not arn:
        return None
    kind = "AssumedRole" if ":assumed-role/" in arn else "IAMUser"
    if _ROOT_ARN.match(arn):
        kind = "Root"
    principal = who(claims({"type": kind, "arn": arn, "accountId": _arn_account(arn)}, {}))
    return principal if principal.kind is not PrincipalKind.UNKNOWN else None


def studio_user(
    profile: str, domain_id: str | None, via: str, profile_arn: str | None = None
) -> Principal:
    """The Studio user behind a user-profile name SageMaker itself reports (an app's or a
    space's owner, a pipeline's starter): trusted."""
    return Principal(
        PrincipalKind.STUDIO_USER,
        profile,
        via,
        (profile,),
        email=_email(profile),
        profile_name=profile,
        profile_arn=profile_arn,
        domain_id=domain_id,
    )
