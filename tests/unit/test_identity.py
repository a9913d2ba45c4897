"""The trust order: which signal names the creator, and which a caller could forge."""

from __future__ import annotations

from typing import Any

import pytest

from autotag.events import parse
from autotag.identity import (
    PROFILE_ARN_TAG,
    Claims,
    PrincipalKind,
    claims,
    from_created_by,
    who,
)
from tests.conftest import load_event

ACCOUNT = "123456789012"
EXEC_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-20240601T120000"
)
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ml-analyst"
PROFILE = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/d-abc123xyz456"


def role(
    name: str,
    session: str,
    *,
    path: str = "",
    source_identity: str | None = None,
    on_behalf_of: str | None = None,
    invoked_by: str | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/{path}{name}",
            "userName": name,
        }
    }
    if source_identity:
        context["sourceIdentity"] = source_identity
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
        "accountId": ACCOUNT,
        "sessionContext": context,
    }
    if on_behalf_of:
        identity["onBehalfOf"] = {
            "userId": on_behalf_of,
            "identityStoreArn": "arn:aws:identitystore::123456789012:identitystore/d-1",
        }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


IAM_BOB = {"type": "IAMUser", "userName": "bob", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}
EXEC = "AmazonSageMaker-ExecutionRole-20240601T120000"


def decide(
    identity: dict[str, Any],
    tags: dict[str, str] | None = None,
    *,
    studio_roles: frozenset[str] = frozenset(),
    vouched: frozenset[str] = frozenset(),
) -> tuple[PrincipalKind, str, str | None]:
    principal = who(claims(identity, tags or {}), studio_roles=studio_roles, vouched_roles=vouched)
    return principal.kind, principal.name, principal.claimed


# Each row: a real-world caller, and what the trust order makes of it. The rows marked "forged"
# are the attacks the trust order exists for.
CASES: list[tuple[str, dict[str, Any], dict[str, str], dict[str, Any], tuple[Any, ...]]] = [
    ("IAM user", IAM_BOB, {}, {}, (PrincipalKind.IAM_USER, "bob", None)),
    (
        "forged: IAM user with a Studio profile tag",
        IAM_BOB,
        {PROFILE_ARN_TAG: f"{PROFILE}/alice"},
        {"studio_roles": frozenset({EXEC_ROLE})},
        (PrincipalKind.IAM_USER, "bob", "alice"),
    ),
    (
        "Studio: sourceIdentity under the profile's execution role",
        role(EXEC, "SageMaker", path="service-role/", source_identity="alice"),
        {},
        {"studio_roles": frozenset({EXEC_ROLE})},
        (PrincipalKind.STUDIO_USER, "alice", None),
    ),
    (
        "Studio: profile tag under the profile's execution role",
        role(EXEC, "SageMaker", path="service-role/"),
        {PROFILE_ARN_TAG: f"{PROFILE}/dave"},
        {"studio_roles": frozenset({EXEC_ROLE})},
        (PrincipalKind.STUDIO_USER, "dave", None),
    ),
    (
        "forged: sourceIdentity from a role that is not the profile's",
        role("ml-analyst", "x", source_identity="alice"),
        {},
        {"studio_roles": frozenset({EXEC_ROLE})},
        (PrincipalKind.ROLE, "ml-analyst", "alice"),
    ),
    (
        "forged: profile tag from a role that is not the profile's",
        role("ml-analyst", "SageMaker"),
        {PROFILE_ARN_TAG: f"{PROFILE}/alice"},
        {"studio_roles": frozenset({EXEC_ROLE})},
        (PrincipalKind.ROLE, "ml-analyst", "alice"),
    ),
    (
        "Studio claim whose profile could not be read",
        role(EXEC, "SageMaker", path="service-role/", source_identity="alice"),
        {},
        {},
        (PrincipalKind.ROLE, EXEC, "alice"),
    ),
    (
        "IAM Identity Center role under its reserved path",
        role("AWSReservedSSO_DS_abc", "carol@example.com", path="aws-reserved/sso.amazonaws.com/"),
        {},
        {},
        (PrincipalKind.SSO_USER, "carol@example.com", None),
    ),
    (
        "IAM Identity Center role with a Region in its path",
        role(
            "AWSReservedSSO_DS_abc",
            "carol@example.com",
            path="aws-reserved/sso.amazonaws.com/eu-west-1/",
        ),
        {},
        {},
        (PrincipalKind.SSO_USER, "carol@example.com", None),
    ),
    (
        "forged: a role merely named AWSReservedSSO_",
        role("AWSReservedSSO_DS_abc", "ceo@example.com"),
        {},
        {},
        (PrincipalKind.ROLE, "AWSReservedSSO_DS_abc", "ceo@example.com"),
    ),
    (
        "forged: a session name chosen by the caller",
        role("ml-analyst", "erin"),
        {},
        {},
        (PrincipalKind.ROLE, "ml-analyst", "erin"),
    ),
    (
        "a session name an identity provider sets (registry vouches for the role)",
        role("ml-analyst", "erin"),
        {},
        {"vouched": frozenset({"ml-analyst"})},
        (PrincipalKind.ROLE_SESSION, "erin", None),
    ),
    (
        "a vouched session name with a timestamp suffix",
        role("ml-analyst", "jdoe-1717405200"),
        {},
        {"vouched": frozenset({"ml-analyst"})},
        (PrincipalKind.ROLE_SESSION, "jdoe", None),
    ),
    (
        "a vouched role whose session is a tool's",
        role("ml-analyst", "botocore-session-1717405200"),
        {},
        {"vouched": frozenset({"ml-analyst"})},
        (PrincipalKind.ROLE, "ml-analyst", None),
    ),
    (
        "a Lambda function's role",
        role("etl-role", "nightly-etl-function"),
        {},
        {},
        (PrincipalKind.ROLE, "etl-role", None),
    ),
    (
        "CI",
        role("github-mlops-deploy", "GitHubActions"),
        {},
        {},
        (PrincipalKind.ROLE, "github-mlops-deploy", None),
    ),
    (
        "trusted identity propagation",
        role(
            "AmazonSageMakerUnifiedStudio", "x", on_behalf_of="94482488-3041-7026-18f3-be45837cd0e4"
        ),
        {},
        {},
        (PrincipalKind.IDENTITY_CENTER_USER, "94482488-3041-7026-18f3-be45837cd0e4", None),
    ),
    (
        "a service with a role",
        role(EXEC, "SageMaker", path="service-role/", invoked_by="sagemaker.amazonaws.com"),
        {},
        {},
        (PrincipalKind.SERVICE, "sagemaker.amazonaws.com", None),
    ),
    (
        "a role deploying through CloudFormation (another service acting for the caller)",
        role("deployer", "x", invoked_by="cloudformation.amazonaws.com"),
        {},
        {},
        (PrincipalKind.ROLE, "deployer", None),
    ),
    (
        "the root user",
        {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT},
        {},
        {},
        (PrincipalKind.ROOT, "root", None),
    ),
    (
        "the root user without a type",
        {"arn": f"arn:aws:iam::{ACCOUNT}:root"},
        {},
        {},
        (PrincipalKind.ROOT, "root", None),
    ),
    (
        "a federated user names themself",
        {"type": "FederatedUser", "principalId": f"{ACCOUNT}:jo@example.com", "arn": "a"},
        {},
        {},
        (PrincipalKind.FEDERATED_USER, "a", "jo@example.com"),
    ),
    ("nothing", {}, {}, {}, (PrincipalKind.UNKNOWN, "unknown", None)),
    (
        "a malformed ARN",
        {"type": "AssumedRole", "arn": 5},
        {},
        {},
        (PrincipalKind.UNKNOWN, "unknown", None),
    ),
]


@pytest.mark.parametrize(
    ("identity", "tags", "context", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_trust_order(
    identity: dict[str, Any],
    tags: dict[str, str],
    context: dict[str, Any],
    expected: tuple[Any, ...],
) -> None:
    assert decide(identity, tags, **context) == expected


def test_root_is_the_accounts_and_names_no_registry_entry() -> None:
    principal = who(claims({"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"}, {}))
    assert principal.lookup_keys == ()
    assert principal.account == ACCOUNT
    assert not principal.is_person


def test_a_request_tag_never_names_the_creator() -> None:
    principal = who(claims(IAM_BOB, {"Owner": "ceo@example.com"}))
    assert principal.name == "bob"
    assert principal.claimed is None


@pytest.mark.parametrize(
    ("event", "kind", "name", "keys"),
    [
        (
            "sso_CreateTransformJob",
            PrincipalKind.SSO_USER,
            "carol@example.com",
            ("carol@example.com",),
        ),
        ("iam-user_CreateEndpoint", PrincipalKind.IAM_USER, "bob", ("bob",)),
        (
            "ci-role_CreateModel",
            PrincipalKind.ROLE,
            "github-mlops-deploy",
            ("github-mlops-deploy",),
        ),
        ("service_CreateCompilationJob", PrincipalKind.SERVICE, "sagemaker.amazonaws.com", ()),
        (
            "role-session_CreateHyperParameterTuningJob",
            PrincipalKind.ROLE,
            "ml-analyst",
            ("ml-analyst",),
        ),
    ],
)
def test_the_corpus(event: str, kind: PrincipalKind, name: str, keys: tuple[str, ...]) -> None:
    call = parse(load_event(event))
    principal = who(claims(call.user_identity, call.request_tags))
    assert (principal.kind, principal.name, principal.lookup_keys) == (kind, name, keys)


def test_a_studio_claim_names_its_profile_and_domain() -> None:
    call = parse(load_event("studio-profile-tag_CreateProcessingJob"))
    said = claims(call.user_identity, call.request_tags)
    assert said.studio is not None
    assert (said.studio.name, said.studio.domain_id) == ("dave", "d-abc123xyz456")
    principal = who(said, studio_roles=frozenset({EXEC_ROLE}))
    assert principal.lookup_keys == ("dave", EXEC)


def test_a_profile_tag_naming_another_profile_than_source_identity_gives_no_domain() -> None:
    identity = role(EXEC, "SageMaker", path="service-role/", source_identity="alice")
    said = claims(identity, {PROFILE_ARN_TAG: f"{PROFILE}/mallory"})
    assert said.studio is not None
    assert (said.studio.name, said.studio.domain_id) == ("alice", None)


def test_claims_decide_nothing() -> None:
    assert claims({}, {}) == Claims()
    assert claims({}, {}).empty


@pytest.mark.parametrize(
    ("created_by", "kind", "name"),
    [
        ({"UserProfileName": "dave", "DomainId": "d-1"}, PrincipalKind.STUDIO_USER, "dave"),
        (
            {"IamIdentity": {"Arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}},
            PrincipalKind.IAM_USER,
            "bob",
        ),
        ({"IamIdentity": {"Arn": f"arn:aws:iam::{ACCOUNT}:root"}}, PrincipalKind.ROOT, "root"),
    ],
)
def test_created_by(created_by: dict[str, Any], kind: PrincipalKind, name: str) -> None:
    principal = from_created_by(created_by)
    assert principal is not None
    assert (principal.kind, principal.name) == (kind, name)
