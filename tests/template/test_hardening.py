"""The stack as a security review reads it: who may publish, subscribe, change or delete; what
bounds the cost; what is kept when the stack goes. Each test names the finding it answers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from autotag.observability import NAMESPACE, SERVICE
from local import template

FUNCTIONS = ("TagOnCreateFunction", "SweepFunction", "NotifyDigestFunction")
FUNCTION_ROLES = [
    *({"Fn::GetAtt": [f"{name}Role", "Arn"]} for name in FUNCTIONS),
    # the showback function exists only when scheduled (ShowbackSchedule)
    {"Fn::If": ["HasShowback", {"Fn::GetAtt": ["ShowbackFunctionRole", "Arn"]},
                {"Ref": "AWS::NoValue"}]},
]  # fmt: skip
SNS_ACTIONS_THAT_CHANGE = {
    "sns:Subscribe",
    "sns:SetTopicAttributes",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sns:DeleteTopic",
}


def resources() -> dict[str, Any]:
    return template.resources()


def flat(statements: list[Any]) -> list[dict[str, Any]]:
    """Statements, with a conditional one (`!If [cond, statement, NoValue]`) taken as present."""
    found = []
    for statement in statements:
        if "Fn::If" in statement:
            statement = statement["Fn::If"][1]  # noqa: PLW2901
        found.append(statement)
    return found


def by_sid(statements: list[Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in flat(statements)}


def topic_policy(topic: str) -> dict[str, dict[str, Any]]:
    policies = [
        r["Properties"]
        for r in resources().values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and r["Properties"]["Topics"] == [{"Ref": topic}]
    ]
    assert len(policies) == 1, f"{topic} has {len(policies)} topic policies"
    return by_sid(policies[0]["PolicyDocument"]["Statement"])


def stack_names(resource_type: str, field: str) -> set[str]:
    """The `!Sub ${AWS::StackName}-...` names the stack gives its resources of a type."""
    names = set()
    for resource in resources().values():
        if resource["Type"] == resource_type:
            names.add(resource["Properties"][field]["Fn::Sub"])
    return names


def alarm_arns() -> set[str]:
    prefix = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
    return {prefix + name for name in stack_names("AWS::CloudWatch::Alarm", "AlarmName")}


def subs(values: list[Any]) -> set[str]:
    return {v["Fn::Sub"] for v in values}


# ---------------------------------------------------------------- 1. topic policies


def test_only_the_stacks_functions_publish_notices() -> None:
    """Finding: anyone with sns:Publish and the key could send mail as the tagger."""
    policy = topic_policy("NotifyTopic")
    assert policy["TheFunctionsPublish"]["Principal"]["AWS"] == FUNCTION_ROLES
    deny = policy["NobodyElsePublishes"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": FUNCTION_ROLES}}


def test_only_the_stacks_alarms_publish_to_the_admin_topic() -> None:
    policy = topic_policy("AdminTopic")
    allow = policy["TheStacksAlarmsPublish"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert subs(allow["Condition"]["ArnEquals"]["aws:SourceArn"]) == alarm_arns()
    deny = policy["NobodyElsePublishes"]
    assert deny["Condition"] == {
        "StringNotEqualsIfExists": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"}
    }
    every = {
        r["Properties"]["AlarmActions"][0]["Ref"]
        for r in resources().values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert every == {"AdminTopic"}
    assert len(alarm_arns()) == len(
        [r for r in resources().values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    )


@pytest.mark.parametrize("topic", ["NotifyTopic", "AdminTopic"])
def test_only_operators_and_cloudformation_subscribe_or_change_a_topic(topic: str) -> None:
    """Finding: anyone who could subscribe without a filter read every notice."""
    policy = topic_policy(topic)
    deny = policy["OnlyOperatorsAndCloudFormationSubscribeOrChangeIt"]
    assert deny["Effect"] == "Deny"
    assert set(deny["Action"]) == SNS_ACTIONS_THAT_CHANGE
    condition = deny["Condition"]
    # the principal that deploys and updates the stack does so through CloudFormation
    assert condition["ForAllValues:StringNotEquals"] == {
        "aws:CalledVia": "cloudformation.amazonaws.com"
    }
    operators = condition["ArnNotEquals"]["Fn::If"]
    assert operators[0] == "HasOperators"
    assert operators[1] == {"aws:PrincipalArn": {"Ref": "OperatorPrincipals"}}
    allow = policy["OperatorsSubscribePeople"]
    assert allow["Principal"] == {"AWS": {"Ref": "OperatorPrincipals"}}
    assert "sns:Subscribe" in allow["Action"]


@pytest.mark.parametrize("topic", ["NotifyTopic", "AdminTopic"])
def test_a_topic_refuses_calls_without_tls(topic: str) -> None:
    deny = topic_policy(topic)["TlsOnly"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"sns:Publish", *SNS_ACTIONS_THAT_CHANGE} <= set(deny["Action"])


# ---------------------------------------------------------------- 2. the key


def test_the_key_outlives_the_stack_and_only_its_administrators_may_delete_it() -> None:
    """Finding: the key went with the stack (the retained registry then unreadable), and every
    admin could schedule its deletion."""
    key = resources()["AutoTagKey"]
    assert key["DeletionPolicy"] == "Retain"
    assert key["UpdateReplacePolicy"] == "Retain"
    policy = by_sid(key["Properties"]["KeyPolicy"]["Statement"])
    deny = policy["OnlyKeyAdministratorsScheduleDeletion"]
    assert deny["Effect"] == "Deny"
    assert deny["Action"] == "kms:ScheduleKeyDeletion"
    condition = deny["Condition"]["Fn::If"]
    # with administrators: all but them; without: nobody (no condition)
    assert condition[1] == {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "KeyAdministrators"}}}
    assert condition[2] == {"Ref": "AWS::NoValue"}
    admins = policy["KeyAdministrators"]
    assert admins["Principal"] == {"AWS": {"Ref": "KeyAdministrators"}}
    assert "kms:ScheduleKeyDeletion" in admins["Action"]
    assert resources()["RegistryTable"]["Properties"]["DeletionProtectionEnabled"] is True
    assert resources()["RegistryTable"]["DeletionPolicy"] == "Retain"


def test_the_keys_service_statements_name_the_stacks_own_alarms_rules_and_log_groups() -> None:
    policy = by_sid(resources()["AutoTagKey"]["Properties"]["KeyPolicy"]["Statement"])
    alarms = policy["TheStacksAlarmsMayPublishToTheAdminTopic"]["Condition"]
    assert subs(alarms["ArnEquals"]["aws:SourceArn"]) == alarm_arns()
    rules = policy["TheStacksRulesMayDeadLetter"]["Condition"]
    rule_names = {
        event["Properties"]["RuleName"]["Fn::Sub"]
        for event in template.function_properties()["Events"].values()
        if event["Type"] == "EventBridgeRule"
    }
    prefix = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
    assert subs(rules["ArnEquals"]["aws:SourceArn"]) == {prefix + n for n in rule_names}
    logs = policy["TheStacksLogGroupsMayEncrypt"]["Condition"]["ArnEquals"]
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    groups = stack_names("AWS::Logs::LogGroup", "LogGroupName")
    assert subs(logs["kms:EncryptionContext:aws:logs:arn"]) == {prefix + g for g in groups}
    assert len(groups) == 4
    for statement in flat(resources()["AutoTagKey"]["Properties"]["KeyPolicy"]["Statement"]):
        if "Service" in statement["Principal"]:  # no service statement without a scope
            assert statement["Condition"], statement["Sid"]


def test_every_function_grant_on_the_key_goes_through_the_stacks_services() -> None:
    """Finding: the functions' grants had no kms:ViaService."""
    grants = [
        statement
        for function in (*FUNCTIONS, "ShowbackFunction")
        for statement in template.policy_statements(function)
        if any(
            str(a).startswith("kms:")
            for a in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        )
    ]
    assert len(grants) >= 4
    for grant in grants:
        via = subs(grant["Condition"]["StringEquals"]["kms:ViaService"])
        assert via == {
            f"{service}.${{AWS::Region}}.amazonaws.com"
            for service in ("dynamodb", "sqs", "sns", "lambda")
        }


# ---------------------------------------------------------------- 3. bounded cost


def test_the_tagging_function_is_reserved_by_default() -> None:
    """Finding: unreserved by default, cheap calls could drive invocations without bound."""
    parameters = template.load()["Parameters"]
    assert parameters["ReservedConcurrency"]["Default"] > 0
    reserved = template.function_properties()["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": [
            "HasReservedConcurrency",
            {"Ref": "ReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_the_digest_trigger_has_a_maximum_concurrency() -> None:
    digest = resources()["NotifyDigestFunction"]["Properties"]["Events"]["DigestTimer"]
    assert digest["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_the_daily_cap_per_recipient_is_a_parameter_the_functions_read() -> None:
    parameters = template.load()["Parameters"]
    assert parameters["DailyMessageCap"]["Default"] == 5
    for function in ("TagOnCreateFunction", "SweepFunction", "NotifyDigestFunction"):
        assert template.environment(function)["DAILY_MESSAGE_CAP"] == {"Ref": "DailyMessageCap"}


@pytest.mark.parametrize(
    ("schedule", "allowed"),
    [
        ("rate(6 hours)", True),
        ("rate(1 day)", True),
        ("rate(30 minutes)", True),
        ("cron(0 */6 * * ? *)", True),
        ("rate(1 hours)", False),
        ("rate(0 minutes)", False),
        ("every 6 hours", False),
        ("rate(6 hours); rm -rf", False),
        ("", False),
    ],
)
def test_the_sweep_schedule_takes_only_a_schedule_expression(schedule: str, allowed: bool) -> None:
    pattern = template.load()["Parameters"]["SweepSchedule"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, schedule)) is allowed
    assert re.fullmatch(pattern, template.load()["Parameters"]["SweepSchedule"]["Default"])


# ---------------------------------------------------------------- 4. rules and refused events


def test_every_rule_pins_the_stacks_account() -> None:
    """Finding: the patterns did not pin the account."""
    for name, event in template.function_properties()["Events"].items():
        if event["Type"] == "EventBridgeRule":
            pattern = event["Properties"]["Pattern"]
            assert pattern["account"] == [{"Ref": "AWS::AccountId"}], name


def test_the_function_takes_events_of_its_own_account_only() -> None:
    """Finding: AllowedAccounts dropped the stack's own account and implied a cross-account
    mode the stack does not have."""
    assert "AllowedAccounts" not in template.load()["Parameters"]
    assert template.environment()["ALLOWED_ACCOUNTS"] == {"Ref": "AWS::AccountId"}


@pytest.mark.parametrize("metric", ["EventsForeign", "EventsUnparseable"])
def test_refused_and_unparseable_events_raise_an_alarm(metric: str) -> None:
    alarms = [
        r["Properties"]
        for r in resources().values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["MetricName"] == metric
    ]
    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm["Namespace"] == NAMESPACE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [{"Ref": "AdminTopic"}]
