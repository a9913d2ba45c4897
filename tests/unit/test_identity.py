from __future__ import annotations

import pytest

from autotag.events import parse
from autotag.identity import PrincipalKind, names_someone, who
from tests.conftest import load_event


def _who(name: str) -> tuple[PrincipalKind, str, tuple[str, ...], str | None]:
    call = parse(load_event(name))
    principal = who(call.user_identity, call.request_tags)
    return principal.kind, principal.name, principal.lookup_keys, principal.email


@pytest.mark.parametrize(
    ("event", "kind", "name", "keys", "email"),
    [
        (
            "studio-source-identity_CreateTrainingJob",
            PrincipalKind.STUDIO_USER,
            "alice",
            ("alice", "AmazonSageMaker-ExecutionRole-20240601T120000"),
            None,
        ),
        (
            "studio-profile-tag_CreateProcessingJob",
            PrincipalKind.STUDIO_USER,
            "dave",
            ("dave", "AmazonSageMaker-ExecutionRole-20240601T120000"),
            None,
        ),
        (
            "sso_CreateTransformJob",
            PrincipalKind.SSO_USER,
            "carol@example.com",
            ("carol@example.com",),
            "carol@example.com",
        ),
        ("iam-user_CreateEndpoint", PrincipalKind.IAM_USER, "bob", ("bob",), None),
        (
            "role-session_CreateHyperParameterTuningJob",
            PrincipalKind.ROLE_SESSION,
            "erin",
            ("erin", "ml-analyst"),
            None,
        ),
        (
            "ci-role_CreateModel",
            PrincipalKind.ROLE,
            "github-mlops-deploy",
            ("github-mlops-deploy",),
            None,
        ),
        (
            "execution-role_CreateEndpointConfig",
            PrincipalKind.ROLE,
            "AmazonSageMaker-ExecutionRole-20240601T120000",
            ("AmazonSageMaker-ExecutionRole-20240601T120000",),
            None,
        ),
        (
            "service_CreateCompilationJob",
            PrincipalKind.SERVICE,
            "sagemaker.amazonaws.com",
            (),
            None,
        ),
    ],
)
def test_who_for_each_identity_form(
    event: str, kind: PrincipalKind, name: str, keys: tuple[str, ...], email: str | None
) -> None:
    assert _who(event) == (kind, name, keys, email)


def test_studio_profile_arn_comes_from_the_system_tag() -> None:
    call = parse(load_event("studio-profile-tag_CreateProcessingJob"))
    principal = who(call.user_identity, call.request_tags)
    assert principal.profile_arn == (
        "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-abc123xyz456/dave"
    )
    assert principal.domain_id == "d-abc123xyz456"


def test_source_identity_alone_leaves_the_profile_arn_to_be_found() -> None:
    call = parse(load_event("studio-source-identity_CreateTrainingJob"))
    principal = who(call.user_identity, call.request_tags)
    assert principal.profile_name == "alice"
    assert principal.profile_arn is None
    assert principal.domain_id is None


def test_profile_tag_naming_someone_else_than_source_identity_is_ignored() -> None:
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/Exec/SageMaker",
        "sessionContext": {"sourceIdentity": "alice", "sessionIssuer": {"userName": "Exec"}},
    }
    tags = {"sagemaker:user-profile-arn": "arn:aws:sagemaker:us-east-1:1:user-profile/d-1/mallory"}
    principal = who(identity, tags)
    assert principal.name == "alice"
    assert principal.profile_arn is None


def test_a_request_tag_alone_never_names_a_non_studio_person() -> None:
    identity = {"type": "IAMUser", "userName": "bob", "arn": "arn:aws:iam::1:user/bob"}
    principal = who(identity, {"Owner": "ceo@example.com"})
    assert principal.name == "bob"


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        ("SageMaker", False),
        ("sagemaker", False),
        ("GitHubActions", False),
        ("botocore-session-1717405200", False),
        ("aws-go-sdk-1717405200123", False),
        ("i-0abc12345def67890", False),
        ("1717405200", False),
        ("5f0c7d2e-3b1a-4c5d-9e8f-0a1b2c3d4e5f", False),
        ("", False),
        ("erin", True),
        ("erin@example.com", True),
        ("lee,sam", True),
        ("jane.doe", True),
    ],
)
def test_names_someone(session: str, expected: bool) -> None:
    assert names_someone(session) is expected


@pytest.mark.parametrize(
    ("identity", "kind"),
    [
        ({"type": "Root", "arn": "arn:aws:iam::1:root"}, PrincipalKind.ROOT),
        ({"type": "AWSService", "invokedBy": "sagemaker.amazonaws.com"}, PrincipalKind.SERVICE),
        ({"type": "FederatedUser", "principalId": "1:jo@example.com"}, PrincipalKind.ROLE_SESSION),
        ({}, PrincipalKind.UNKNOWN),
        ({"type": "AssumedRole", "arn": 5}, PrincipalKind.UNKNOWN),
    ],
)
def test_other_identity_types(identity: dict[str, object], kind: PrincipalKind) -> None:
    assert who(identity, {}).kind is kind


def test_a_service_acting_for_a_person_keeps_the_person() -> None:
    call = parse(load_event("sso_CreateTransformJob"))
    identity = dict(call.user_identity) | {"invokedBy": "cloudformation.amazonaws.com"}
    principal = who(identity, call.request_tags)
    assert principal.kind is PrincipalKind.SSO_USER
    assert principal.name == "carol@example.com"


def test_a_service_acting_with_an_anonymous_role_is_the_service() -> None:
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/Exec/SageMaker",
        "sessionContext": {"sessionIssuer": {"userName": "Exec"}},
        "invokedBy": "sagemaker.amazonaws.com",
    }
    principal = who(identity, {})
    assert (principal.kind, principal.name) == (PrincipalKind.SERVICE, "sagemaker.amazonaws.com")


@pytest.mark.parametrize(
    "session",
    [
        "AWSCodeBuild-8f2c3a1e-1234-4cde-9abc-0123456789ab",
        "terraform-20240601123000",
        "GlueJobRunnerSession",
        "SageMakerStudio",
    ],
)
def test_tool_sessions_name_nobody(session: str) -> None:
    assert not names_someone(session)
