"""template.yaml agrees with the code: the rule, the permissions, the table, the settings."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from autotag import events, registry
from autotag.inventory import Inventory
from autotag.lineage import Lineage
from autotag.notify import Notifier
from autotag.outbox import Outbox
from autotag.policy import DEFAULT_REQUIRED
from autotag.registry import RegistryReader
from autotag.sagemaker import ResourceTags
from autotag.showback import Ledger, Showback
from autotag.state import SHOWBACK_PREFIX, StateTable
from autotag.studio import StudioProfiles
from autotag.sweep import Sweep
from autotag.tagger import STATE_EXPIRY, STATE_KEY, Tagger
from autotag.trail import CreatorTrail
from local import template
from tests.conftest import corpus_names, load_event

# What each function's code calls, declared next to the calls.
DECLARED = {
    *Tagger.permissions,
    *ResourceTags.permissions,
    *StudioProfiles.permissions,
    *RegistryReader.permissions,
    *Notifier.permissions,
    *Outbox.permissions,
    *Lineage.permissions,
    *CreatorTrail.permissions,
    *StateTable.permissions,
}
DIGEST_DECLARED = {*Outbox.flush_permissions, *Notifier.permissions}
SWEEP_DECLARED = {*DECLARED, *Inventory.permissions, *Sweep.permissions}
SHOWBACK_DECLARED = {
    *Showback.permissions,
    *Ledger.permissions,
    *RegistryReader.permissions,
    *Notifier.permissions,
}
# Used by AWS services on the function's behalf (SNS, SQS, Lambda settings), on the stack's key.
ON_BEHALF = {"kms:GenerateDataKey", "kms:Decrypt"}
DIGEST = "NotifyDigestFunction"
SWEEP = "SweepFunction"
SHOWBACK = "ShowbackFunction"


def statements(function: str = template.FUNCTION) -> list[dict[str, Any]]:
    return template.policy_statements(function)


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def code_actions(function: str = template.FUNCTION) -> set[str]:
    found = {action for s in statements(function) for action in actions_of(s)}
    return found - ON_BEHALF


def test_rule_lists_exactly_the_supported_events() -> None:
    names = template.rule_pattern()["detail"]["eventName"]
    assert len(names) == len(set(names))
    assert names == [spec.event_name for spec in events.SUPPORTED]


def test_rule_takes_only_successful_sagemaker_calls_by_people_and_by_sagemaker() -> None:
    pattern = template.rule_pattern()
    assert pattern["source"] == [events.SOURCE]
    assert pattern["detail-type"] == [events.DETAIL_TYPE, events.SERVICE_DETAIL_TYPE]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]


def test_three_rules_reach_the_one_function() -> None:
    patterns = template.rule_patterns()
    assert set(patterns) == {"CloudTrailCreate", "TagsRemoved", "StateChange"}
    removed = patterns["TagsRemoved"]
    assert removed["detail"]["eventName"] == [events.DELETE_TAGS]
    assert removed["detail"]["errorCode"] == [{"exists": False}]
    assert removed["detail-type"] == [events.DETAIL_TYPE]
    # The state-change rule lists exactly the kinds whose events the code parses.
    assert sorted(patterns["StateChange"]["detail-type"]) == sorted(events.BY_STATE_CHANGE)
    assert all(p["source"] == [events.SOURCE] for p in patterns.values())


def test_a_service_event_and_a_state_change_reach_the_function() -> None:
    service = copy.deepcopy(load_event("service-event_CreateTrainingJob"))
    assert template.rule_matches(service)
    change = copy.deepcopy(load_event("state-change_TrainingJob"))
    assert template.rule_matches(change)
    change["detail-type"] = "SageMaker Model Package State Change"
    assert not template.rule_matches(change)


@pytest.mark.parametrize("name", corpus_names())
def test_rule_matches_the_corpus_events_the_function_acts_on(name: str) -> None:
    event = load_event(name)
    should_match = not name.startswith(("failed_", "unsupported_"))
    assert template.rule_matches(event) is should_match


@pytest.mark.parametrize(
    "event_name",
    [
        "AddTags",
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


def test_rule_targets_retry_and_have_a_dead_letter_queue() -> None:
    policy = template.resources()["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    for rule in template.rule_patterns():
        properties = template.function_properties()["Events"][rule]["Properties"]
        dead_letter = {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
        assert properties["DeadLetterConfig"] == dead_letter
        assert properties["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert {"Fn::GetAtt": [f"TagOnCreateFunction{rule}", "Arn"]} in sources


def test_a_failed_invocation_lands_in_a_queue() -> None:
    config = template.function_properties()["EventInvokeConfig"]
    on_failure = config["DestinationConfig"]["OnFailure"]
    assert on_failure == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]},
    }
    assert template.resources()["FailedEventsQueue"]["Type"] == "AWS::SQS::Queue"


def test_iam_actions_are_exactly_what_the_code_declares() -> None:
    assert code_actions() == DECLARED
    assert code_actions(DIGEST) == DIGEST_DECLARED
    assert code_actions(SWEEP) == SWEEP_DECLARED
    assert code_actions(SHOWBACK) == SHOWBACK_DECLARED
    for function in (template.FUNCTION, DIGEST, SWEEP, SHOWBACK):
        for statement in statements(function):
            assert all("*" not in action for action in actions_of(statement))
            if set(actions_of(statement)) & ON_BEHALF:
                assert statement["Resource"] == {"Fn::GetAtt": ["AutoTagKey", "Arn"]}
            assert statement["Effect"] == "Allow"
    every = {
        a
        for f in (template.FUNCTION, DIGEST, SWEEP, SHOWBACK)
        for s in statements(f)
        for a in actions_of(s)
    }
    assert "sagemaker:DeleteTags" not in every


def test_dynamodb_actions_name_the_stack_tables() -> None:
    for function in (template.FUNCTION, DIGEST, SWEEP, SHOWBACK):
        for statement in statements(function):
            if any(action.startswith("dynamodb:") for action in actions_of(statement)):
                assert statement["Resource"] in (
                    {"Fn::GetAtt": ["RegistryTable", "Arn"]},
                    {"Fn::GetAtt": ["StateTable", "Arn"]},
                )


def test_add_tags_is_limited_to_the_managed_keys() -> None:
    (statement,) = [s for s in statements() if "sagemaker:AddTags" in actions_of(s)]
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"aws:TagKeys": {"Ref": "ManagedTagKeys"}}
    }
    default = template.load()["Parameters"]["ManagedTagKeys"]["Default"].split(",")
    assert default == list(DEFAULT_REQUIRED)
    variables = template.environment()
    assert variables["MANAGED_TAG_KEYS"] == {"Fn::Join": [",", {"Ref": "ManagedTagKeys"}]}


def test_tags_are_written_only_on_the_supported_resource_kinds_of_this_account() -> None:
    kinds = {spec.kind for spec in events.SUPPORTED}
    for statement in statements():
        if "sagemaker:AddTags" not in actions_of(statement):
            continue
        resources = [r["Fn::Sub"] for r in statement["Resource"]]
        prefix = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
        assert all(r.startswith(prefix) and r.endswith("/*") for r in resources)
        assert {r.removeprefix(prefix).removesuffix("/*") for r in resources} == kinds


def test_only_list_and_search_actions_need_every_resource() -> None:
    for function in (template.FUNCTION, SWEEP, SHOWBACK):
        for statement in statements(function):
            if statement["Resource"] == "*":
                actions = actions_of(statement)
                assert all(
                    # list and search actions; CloudTrail's look-up and Cost Explorer have no
                    # resource type to scope to
                    a.startswith(("sagemaker:List", "sagemaker:Search", "ce:"))
                    or a == "cloudtrail:LookupEvents"
                    for a in actions
                )


def test_the_sweep_is_scheduled_resumes_and_shares_the_tagging_policy() -> None:
    sweep = template.resources()[SWEEP]["Properties"]
    assert sweep["Events"]["Schedule"]["Properties"]["Schedule"] == {"Ref": "SweepSchedule"}
    assert sweep["Timeout"] == 900
    assert int(template.environment(SWEEP)["SWEEP_MARGIN_SECONDS"]) < sweep["Timeout"]
    shared = {"Ref": "TaggingPolicy"}
    assert shared in sweep["Policies"]
    assert template.function_properties()["Policies"] == [shared]


@pytest.mark.parametrize(
    ("schedule", "allowed"),
    [("", True), ("cron(0 8 3 * ? *)", True), ("rate(30 days)", True), ("monthly", False)],
)
def test_the_showback_is_off_unless_scheduled(schedule: str, allowed: bool) -> None:
    parameter = template.load()["Parameters"]["ShowbackSchedule"]
    assert parameter["Default"] == ""
    assert bool(re.fullmatch(parameter["AllowedPattern"], schedule)) is allowed
    assert template.load()["Conditions"]["HasShowback"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ShowbackSchedule"}, ""]}]
    }
    found = template.resources()
    for name in (SHOWBACK, "ShowbackLogGroup", "ShowbackErrorsAlarm"):
        assert found[name]["Condition"] == "HasShowback", name
    assert template.load()["Outputs"]["ShowbackFunctionName"]["Condition"] == "HasShowback"
    function = found[SHOWBACK]["Properties"]
    assert function["Events"]["Schedule"]["Properties"]["Schedule"] == {"Ref": "ShowbackSchedule"}
    assert function["CodeUri"] == "functions/showback/"
    assert function["Timeout"] == 900
    (ledger,) = [s for s in statements(SHOWBACK) if "dynamodb:UpdateItem" in actions_of(s)]
    assert ledger["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{SHOWBACK_PREFIX}*"]}
    }
    # everything else the function reads comes from the Globals: tables, topic, mode
    assert {"REGISTRY_TABLE", "STATE_TABLE", "NOTIFY_TOPIC_ARN"} <= set(
        template.environment(SHOWBACK)
    )


def test_registry_table_has_the_schema_the_cli_creates() -> None:
    table = template.resources()["RegistryTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": registry.KEY_ATTRIBUTE, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": registry.KEY_ATTRIBUTE, "AttributeType": "S"}
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_function_settings_are_the_ones_the_code_reads() -> None:
    variables = template.environment()
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
    # Built by the Makefile's build-* targets: no Python 3.13 needed on the building machine.
    layer = template.resources()["AutoTagLayer"]
    assert layer["Metadata"] == {
        "BuildMethod": "makefile",
        "BuildArchitecture": "arm64",
        "ContextPath": ".",
    }
    for name in (template.FUNCTION, DIGEST, SWEEP, SHOWBACK):
        metadata = template.resources()[name]["Metadata"]
        assert (metadata["BuildMethod"], metadata["ContextPath"]) == ("makefile", ".")


def test_everything_that_holds_data_uses_the_stack_key() -> None:
    key = {"Ref": "AutoTagKey"}
    key_arn = {"Fn::GetAtt": ["AutoTagKey", "Arn"]}
    found = template.resources()
    for topic in ("NotifyTopic", "AdminTopic"):
        assert found[topic]["Properties"]["KmsMasterKeyId"] == key
    for queue in ("DeadLetterQueue", "FailedEventsQueue", "DigestQueue", "DigestDeadLetterQueue"):
        assert found[queue]["Properties"]["KmsMasterKeyId"] == key
    for table in ("RegistryTable", "StateTable"):
        sse = found[table]["Properties"]["SSESpecification"]
        assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
    for group in (
        "TagOnCreateLogGroup",
        "NotifyDigestLogGroup",
        "SweepLogGroup",
        "ShowbackLogGroup",
    ):
        assert found[group]["Properties"]["KmsKeyId"] == key_arn
        assert found[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert template.load()["Globals"]["Function"]["KmsKeyArn"] == key_arn


def _named(value: dict[str, Any]) -> str:
    """The resource a `!Ref X` or `!GetAtt X.Attr` names."""
    return str(value["Ref"]) if "Ref" in value else str(value["Fn::GetAtt"][0])


def test_alarms_watch_errors_and_every_dead_letter_queue_and_tell_the_admins() -> None:
    alarms = [
        resource["Properties"]
        for resource in template.resources().values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    ]
    watched = {
        (a["MetricName"], _named(a["Dimensions"][0]["Value"]))
        for a in alarms
        if a["Namespace"].startswith("AWS/")
    }
    assert watched == {
        ("Errors", "TagOnCreateFunction"),
        ("Errors", "NotifyDigestFunction"),
        ("Errors", "SweepFunction"),
        ("Errors", "ShowbackFunction"),
        ("ApproximateNumberOfMessagesVisible", "DeadLetterQueue"),
        ("ApproximateNumberOfMessagesVisible", "FailedEventsQueue"),
        ("ApproximateNumberOfMessagesVisible", "DigestDeadLetterQueue"),
    }
    assert all(a["AlarmActions"] == [{"Ref": "AdminTopic"}] for a in alarms)


def test_failed_digest_timers_have_a_queue_of_their_own() -> None:
    """Not the failed-events queue: `autotag redrive` reads events there, timers here."""
    found = template.resources()
    redrive = found["DigestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DigestDeadLetterQueue", "Arn"]}
    outputs = template.load()["Outputs"]
    assert outputs["DigestDeadLetterQueueUrl"]["Value"] == {"Ref": "DigestDeadLetterQueue"}


def test_admin_mail_is_optional_and_filtered_on_the_notice_topic() -> None:
    found = template.resources()
    notices = found["AdminNoticeSubscription"]
    assert notices["Condition"] == "HasAdminEmail"
    assert notices["Properties"]["FilterPolicy"] == {"recipient": ["admin"]}
    assert found["AdminAlarmSubscription"]["Properties"]["TopicArn"] == {"Ref": "AdminTopic"}


def test_state_table_keys_and_expiry_match_the_code() -> None:
    table = template.resources()["StateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": STATE_KEY, "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": STATE_EXPIRY, "Enabled": True}
    assert template.environment()["STATE_TABLE"] == {"Ref": "StateTable"}


def test_retries_of_one_call_fit_inside_the_function_timeout() -> None:
    from autotag import aws  # noqa: PLC0415

    timeout = template.load()["Globals"]["Function"]["Timeout"]
    config: Any = aws.CLIENT_CONFIG
    assert config.retries["mode"] in {"standard", "adaptive"}
    worst = aws.worst_case_call_seconds(
        config.retries["total_max_attempts"], config.connect_timeout, config.read_timeout
    )
    assert worst < timeout
