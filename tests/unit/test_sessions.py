from __future__ import annotations

import os
import re
import string
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotag.sessions import MAX_LENGTH, OPAQUE, SHAPES, SessionKind, classify

PERSON = SessionKind.PERSON
TOOL = SessionKind.TOOL
CI = SessionKind.CI
SERVICE = SessionKind.SERVICE
FUNCTION = SessionKind.FUNCTION
INSTANCE = SessionKind.INSTANCE

# (session name, kind, person): session names as CloudTrail shows them.
CASES = [
    pytest.param("jdoe-1717405200", PERSON, "jdoe", id="user-epoch-seconds"),
    pytest.param("jdoe-1717405200123", PERSON, "jdoe", id="user-epoch-millis"),
    pytest.param("jane.doe_1717405200123456", PERSON, "jane.doe", id="user-epoch-micros"),
    pytest.param("jdoe-20240601T123000Z", PERSON, "jdoe", id="user-iso-datetime"),
    pytest.param("alice@example.com", PERSON, "alice@example.com", id="saml-email"),
    pytest.param(
        "Alice.Smith+ml@corp.example.co.uk",
        PERSON,
        "Alice.Smith+ml@corp.example.co.uk",
        id="oidc-email-plus",
    ),
    pytest.param("john.doe", PERSON, "john.doe", id="cli-user-dotted"),
    pytest.param("erin", PERSON, "erin", id="cli-user-plain"),
    pytest.param("lee_sam", PERSON, "lee_sam", id="cli-user-underscore"),
    pytest.param("lee,sam", PERSON, "lee,sam", id="saml-name-comma"),
    pytest.param("jdoe2", PERSON, "jdoe2", id="user-with-digits"),
    pytest.param("botocore-session-1717405200", TOOL, None, id="botocore-default"),
    pytest.param("aws-go-sdk-1717405200123456789", TOOL, None, id="go-sdk-default"),
    pytest.param("aws-sdk-js-1717405200", TOOL, None, id="js-sdk-v2-default"),
    pytest.param("aws-sdk-js-session-1717405200123", TOOL, None, id="js-sdk-v3-web-identity"),
    pytest.param("aws-sdk-java-1717405200123", TOOL, None, id="java-sdk-default"),
    pytest.param("aws-dotnet-sdk-session-638529000000000000", TOOL, None, id="dotnet-sdk-default"),
    pytest.param("aws-cli", TOOL, None, id="aws-cli"),
    pytest.param("boto3", TOOL, None, id="boto3"),
    pytest.param("terraform-20240601123000000000000001", TOOL, None, id="terraform-unique-id"),
    pytest.param("Terraform", TOOL, None, id="terraform-plain"),
    pytest.param("aws-cdk-jdoe", TOOL, None, id="cdk-cli"),
    pytest.param("awsume-session-prod", TOOL, None, id="awsume"),
    pytest.param("default", TOOL, None, id="generic-default"),
    pytest.param("session", TOOL, None, id="generic-session"),
    pytest.param("GitHubActions", CI, None, id="configure-aws-credentials-default"),
    pytest.param("github-actions-1234567", CI, None, id="github-actions-run-id"),
    pytest.param("GITHUB-ACTIONS", CI, None, id="github-actions-upper"),
    pytest.param("gha-9876543210", CI, None, id="gha-run-id"),
    pytest.param("gitlab-ci-12345", CI, None, id="gitlab-job-id"),
    pytest.param("GitLabRunner", CI, None, id="gitlab-runner"),
    pytest.param(
        "AWSCodeBuild-8f2c3a1e-4b5d-4c6e-9f70-1a2b3c4d5e6f", CI, None, id="codebuild-build"
    ),
    pytest.param("codebuild", CI, None, id="codebuild-plain"),
    pytest.param("CodePipeline", CI, None, id="codepipeline-named"),
    pytest.param("jenkins-build-42", CI, None, id="jenkins-build"),
    pytest.param("circleci", CI, None, id="circleci"),
    pytest.param("spacelift-01HZX3Y7ABCDEF", CI, None, id="spacelift"),
    pytest.param("atlantis", CI, None, id="atlantis"),
    pytest.param("run-CZcmD7eagjhyX0vN", CI, None, id="hcp-terraform-run"),
    pytest.param("buildkite-1234", CI, None, id="buildkite"),
    pytest.param("deploy-prod", CI, None, id="deploy-script"),
    pytest.param("SageMaker", SERVICE, None, id="sagemaker-execution-role"),
    pytest.param("sagemaker", SERVICE, None, id="sagemaker-lower"),
    pytest.param("AmazonSageMaker", SERVICE, None, id="amazon-sagemaker"),
    pytest.param("SageMakerStudio", SERVICE, None, id="sagemaker-studio"),
    pytest.param("AWSCloudFormation", SERVICE, None, id="cloudformation-service-role"),
    pytest.param("GlueJobRunnerSession", SERVICE, None, id="glue-job"),
    pytest.param("gluejobrunnersession", SERVICE, None, id="glue-job-lower"),
    pytest.param("ecs-tasks", SERVICE, None, id="ecs-tasks"),
    pytest.param(
        "eks-ml-cluster-trainer-po-3f2504e0-4f89-11d3", SERVICE, None, id="eks-pod-identity"
    ),
    pytest.param("AWSBackup-AWSBackupDefaultServiceRole", SERVICE, None, id="aws-prefixed-service"),
    pytest.param("RedshiftIamRoleSession", SERVICE, None, id="redshift-copy"),
    pytest.param("i-0abc123def4567890", INSTANCE, None, id="ec2-instance-profile"),
    pytest.param("i-0abc1234", INSTANCE, None, id="ec2-instance-short-id"),
    pytest.param("a1b2c3d4e5f60718293a4b5c6d7e8f90", INSTANCE, None, id="ecs-task-id"),
    pytest.param("3f2504e0-4f89-11d3-9a0c-0305e82c3301", INSTANCE, None, id="uuid"),
    pytest.param("3F2504E0-4F89-11D3-9A0C-0305E82C3301", INSTANCE, None, id="uuid-upper"),
    pytest.param("1717405200123", INSTANCE, None, id="codepipeline-numeric"),
    pytest.param("0123456789abcdef0123", INSTANCE, None, id="hex-id"),
    pytest.param("aws-cli_1717405200", TOOL, None, id="cli-name-with-timestamp"),
    pytest.param("session-1717405200", TOOL, None, id="generic-with-timestamp"),
    pytest.param("SageMaker-1717405200", SERVICE, None, id="sagemaker-with-timestamp"),
    pytest.param("my-etl-function.1717405200", FUNCTION, None, id="lambda-with-timestamp"),
    pytest.param("i-0abc1234-1717405200", INSTANCE, None, id="instance-with-timestamp"),
    pytest.param("a-1717405200", INSTANCE, None, id="one-letter-with-timestamp"),
    pytest.param("", INSTANCE, None, id="empty"),
    pytest.param("jdoe-42", INSTANCE, None, id="user-small-number"),
    pytest.param("x" * (MAX_LENGTH + 1), INSTANCE, None, id="too-long"),
    pytest.param("john doe", INSTANCE, None, id="space-not-allowed"),
    pytest.param(
        "sagemaker-autotag-TagOnCreateFunct-AbCdEf123456", FUNCTION, None, id="cfn-lambda-name"
    ),
    pytest.param("orders-ProcessFunction-1A2B3C4D5E6F", FUNCTION, None, id="cfn-lambda-legacy"),
    pytest.param("my-etl-function", FUNCTION, None, id="lambda-etl-function"),
    pytest.param("nightly_sync_job", FUNCTION, None, id="lambda-sync-job"),
    pytest.param("slack-bot", FUNCTION, None, id="lambda-bot"),
    pytest.param("TagOnCreateFunction", FUNCTION, None, id="sam-function-name"),
]

LABELS = {shape.label: shape for shape in SHAPES}


@pytest.mark.parametrize(("session", "kind", "person"), CASES)
def test_classify(session: str, kind: SessionKind, person: str | None) -> None:
    named = classify(session)
    assert (named.kind, named.person) == (kind, person), named.shape
    assert named.shape in LABELS or named.shape == OPAQUE


def test_every_row_is_matched_by_a_case() -> None:
    matched = {classify(str(case.values[0])).shape for case in CASES}
    assert set(LABELS) - matched == set()


def test_labels_are_unique() -> None:
    assert len(LABELS) == len(SHAPES)
    assert OPAQUE not in LABELS


def test_person_rows_name_their_group_and_only_they_do() -> None:
    for shape in SHAPES:
        groups = re.compile(shape.pattern).groupindex
        if shape.kind is SessionKind.PERSON:
            assert shape.person is not None, shape.label
            assert shape.person in groups, shape.label
        else:
            assert shape.person is None, shape.label


def test_importing_compiles_nothing() -> None:
    check = "import autotag.sessions as s; assert s._regex.cache_info().currsize == 0"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", check], check=True, env=env)


SESSION_ALPHABET = string.ascii_letters + string.digits + "_+=,.@-"
session_names = st.one_of(
    st.text(alphabet=SESSION_ALPHABET, min_size=0, max_size=70),
    st.text(max_size=80),
    st.sampled_from([str(case.values[0]) for case in CASES]).flatmap(
        lambda base: st.text(alphabet=SESSION_ALPHABET, max_size=8).map(lambda tail: base + tail)
    ),
)


@settings(max_examples=2000)
@given(session=session_names)
def test_classify_never_raises_and_names_a_person_only_for_person(session: str) -> None:
    named = classify(session)
    assert isinstance(named.kind, SessionKind)
    assert (named.person is None) is (named.kind is not SessionKind.PERSON)
    if named.person is not None:
        assert named.person
        assert named.person in session
        assert classify(named.person).kind is SessionKind.PERSON


NOT_PEOPLE = [
    str(case.values[0])
    for case in CASES
    if case.values[1] is not SessionKind.PERSON and 2 <= len(str(case.values[0])) <= 40
]


@settings(max_examples=500)
@given(
    base=st.sampled_from(NOT_PEOPLE),
    separator=st.sampled_from("-_."),
    stamp=st.integers(min_value=10**9, max_value=10**19 - 1),
)
def test_a_timestamp_never_makes_a_person(base: str, separator: str, stamp: int) -> None:
    assert classify(f"{base}{separator}{stamp}").kind is not SessionKind.PERSON
