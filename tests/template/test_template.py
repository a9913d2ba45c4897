"""template.yaml agrees with the code: the rule, the permissions, the table, the settings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from autotag import events, registry
from autotag.notify import Notifier
from autotag.registry import RegistryReader
from autotag.sagemaker import ResourceTags
from autotag.studio import StudioProfiles
from autotag.tagger import STATE_EXPIRY, STATE_KEY, Tagger
from local import template
from tests.conftest import corpus_names, load_event

DECLARED = {
    *Tagger.permissions,
    *ResourceTags.permissions,
    *StudioProfiles.permissions,
    *RegistryReader.permissions,
    *Notifier.permissions,
}


def statements() -> list[dict[str, Any]]:
    policies = template.function_properties()["Policies"]
    return [statement for policy in policies for statement in policy["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_rule_lists_exactly_the_supported_events() -> None:
    names = template.rule_pattern()["detail"]["eventName"]
    assert len(names) == len(set(names))
    assert names == [spec.event_name for spec in events.SUPPORTED]


def test_rule_takes_only_successful_sagemaker_api_calls() -> None:
    pattern = template.rule_pattern()
    assert pattern["source"] == [events.SOURCE]
    assert pattern["detail-type"] == [events.DETAIL_TYPE]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]


@pytest.mark.parametrize("name", corpus_names())
def test_rule_matches_the_corpus_events_the_function_acts_on(name: str) -> None:
    event = load_event(name)
    should_match = not name.startswith(("failed_", "unsupported_"))
    assert template.rule_matches(event) is should_match


@pytest.mark.parametrize(
    "event_name",
    [
        "AddTags",
        "DeleteTags",
        "CreatePresignedDomainUrl",
        "CreatePresignedNotebookInstanceUrl",
        "DescribeTrainingJob",
        "ListTrainingJobs",
        "CreateExperiment",
    ],
)
def test_rule_ignores_other_sagemaker_calls(event_name: str) -> None:
    event = copy.deepcopy(load_event("iam-user_CreateEndpoint"))
    event["detail"]["eventName"] = event_name
    assert not template.rule_matches(event)


def test_rule_ignores_other_sources() -> None:
    event = copy.deepcopy(load_event("iam-user_CreateEndpoint"))
    event["source"] = "aws.ec2"
    assert not template.rule_matches(event)


def test_rule_target_retries_and_has_a_dead_letter_queue() -> None:
    properties = template.function_properties()["Events"][template.RULE_EVENT]["Properties"]
    assert properties["DeadLetterConfig"] == {"Type": "SQS"}
    assert properties["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_a_failed_invocation_lands_in_a_queue() -> None:
    config = template.function_properties()["EventInvokeConfig"]
    on_failure = config["DestinationConfig"]["OnFailure"]
    assert on_failure == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]},
    }
    assert template.resources()["FailedEventsQueue"]["Type"] == "AWS::SQS::Queue"


def test_iam_actions_are_exactly_what_the_code_declares() -> None:
    in_template = {action for s in statements() for action in actions_of(s)}
    assert in_template == DECLARED
    assert all("*" not in action for action in in_template)


def test_tags_are_written_only_on_the_supported_resource_kinds_of_this_account() -> None:
    kinds = {spec.kind for spec in events.SUPPORTED}
    for statement in statements():
        if "sagemaker:AddTags" not in actions_of(statement):
            continue
        resources = [r["Fn::Sub"] for r in statement["Resource"]]
        prefix = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
        assert all(r.startswith(prefix) and r.endswith("/*") for r in resources)
        assert {r.removeprefix(prefix).removesuffix("/*") for r in resources} == kinds


def test_only_list_user_profiles_needs_every_resource() -> None:
    for statement in statements():
        if statement["Resource"] == "*":
            assert actions_of(statement) == ["sagemaker:ListUserProfiles"]


def test_registry_table_has_the_schema_the_cli_creates() -> None:
    table = template.resources()["RegistryTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": registry.KEY_ATTRIBUTE, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": registry.KEY_ATTRIBUTE, "AttributeType": "S"}
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}


def test_function_settings_are_the_ones_the_code_reads() -> None:
    properties = template.function_properties()
    variables = properties["Environment"]["Variables"]
    assert {"REGISTRY_TABLE", "NOTIFY_TOPIC_ARN", "MODE", "CACHE_TTL_SECONDS"} <= set(variables)
    assert variables["REGISTRY_TABLE"] == {"Ref": "RegistryTable"}
    assert variables["NOTIFY_TOPIC_ARN"] == {"Ref": "NotifyTopic"}
    assert variables["MODE"] == {"Ref": "Mode"}
    modes = template.load()["Parameters"]["Mode"]["AllowedValues"]
    assert modes == ["enforce", "dry-run"]


def test_runtime_is_python313_on_arm64() -> None:
    function = template.load()["Globals"]["Function"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    layer = template.resources()["AutoTagLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_topic_is_encrypted_and_admin_mail_is_optional() -> None:
    topic = template.resources()["NotifyTopic"]["Properties"]
    assert topic["KmsMasterKeyId"]
    subscription = template.resources()["AdminSubscription"]
    assert subscription["Condition"] == "HasAdminEmail"
    assert subscription["Properties"]["FilterPolicy"] == {"recipient": ["admin"]}


def test_state_table_keys_and_expiry_match_the_code() -> None:
    table = template.resources()["StateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": STATE_KEY, "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": STATE_EXPIRY, "Enabled": True}
    variables = template.function_properties()["Environment"]["Variables"]
    assert variables["STATE_TABLE"] == {"Ref": "StateTable"}


def test_retries_of_one_call_fit_inside_the_function_timeout() -> None:
    from autotag import aws  # noqa: PLC0415

    timeout = template.load()["Globals"]["Function"]["Timeout"]
    config: Any = aws.CLIENT_CONFIG
    assert config.retries["mode"] in {"standard", "adaptive"}
    worst = aws.worst_case_call_seconds(
        config.retries["total_max_attempts"], config.connect_timeout, config.read_timeout
    )
    assert worst < timeout
