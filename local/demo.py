"""`make demo`: a morning in an ML team, played against the local emulator.

People create SageMaker resources through the SageMaker API (the emulator's); each call becomes
the CloudTrail event EventBridge would carry; the stack's rule pattern, read from template.yaml,
decides whether the function sees it; the real `lambda_handler` tags the resource and notifies.
Then last month's bill reaches the emulator's Cost Explorer: `autotag costs` reads it, and the
demo ends with the CFO's answer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

# The function's own logs and metrics would drown the story: keep them quiet here.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("COLUMNS", "110")  # rich's width when the output is not a terminal
# Notices gather for a second (120 s when deployed) before each window's one message goes out.
os.environ.setdefault("DIGEST_DELAY_SECONDS", "1")

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from autotag import cli, costs, registry_file
from autotag.events import parse
from autotag.local_context import LocalContext
from autotag.views import (
    before_after,
    notification_panel,
    problems_view,
    status_text,
)
from local import cost_explorer, functions, template
from local.cloudtrail import Actor, CloudTrail, assumed_role, iam_user
from local.cost_explorer import Line
from local.emulator import Emulator, Notification, Stack

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

ROOT: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGISTRY_FILE: Final = os.path.join(ROOT, "examples", "registry.yaml")
ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
EXEC_ROLE: Final = "AmazonSageMaker-ExecutionRole-20240601T120000"
ROLE_ARN: Final = f"arn:aws:iam::{ACCOUNT}:role/service-role/{EXEC_ROLE}"
DOMAIN: Final = "d-abc123xyz456"
PROFILE_TAGS: Final = {"alice": {"Project": "Alpha-NLP"}, "dave": {"Team": "forecasting"}}
IMAGE: Final = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
STUDIO_UA: Final = "AWS-SageMaker-Python-SDK/2.218.1 md/sagemaker-studio"

ALICE = Actor(
    "alice, in Studio (shared execution role, sourceIdentity on)",
    assumed_role(EXEC_ROLE, "SageMaker", path="service-role/", source_identity="alice"),
    "10.0.12.34",
    STUDIO_UA,
)
DAVE = Actor(
    "dave, a Studio job (execution role; Studio's sagemaker:user-profile-arn tag)",
    assumed_role(EXEC_ROLE, "SageMaker", path="service-role/"),
    "10.0.12.35",
    STUDIO_UA,
)
CAROL = Actor(
    "carol@example.com, through IAM Identity Center",
    assumed_role(
        "AWSReservedSSO_DataScientist_0a1b2c3d4e5f6a7b",
        "carol@example.com",
        path="aws-reserved/sso.amazonaws.com/",
    ),
)
BOB = Actor(
    "bob, an IAM user with access keys", iam_user("bob"), "198.51.100.23", "aws-cli/2.15.30"
)
CI = Actor(
    "the github-mlops-deploy CI role (mapped in the registry)",
    assumed_role("github-mlops-deploy", "GitHubActions"),
    "20.42.11.9",
)
FRANK = Actor("frank, an IAM user the registry does not know", iam_user("frank"), "198.51.100.77")
GRACE = Actor(
    "grace@example.com, who tags everything right",
    assumed_role(
        "AWSReservedSSO_DataScientist_0a1b2c3d4e5f6a7b",
        "grace@example.com",
        path="aws-reserved/sso.amazonaws.com/",
    ),
)
ERIN = Actor(
    "erin, a role session that names her (wrote 'project', not 'Project')",
    assumed_role("ml-analyst", "erin"),
)


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": key.replace("_", "-"), "Value": value} for key, value in tags.items()]


def _studio_tags(profile: str) -> list[dict[str, str]]:
    prefix = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    return [
        {"Key": "sagemaker:user-profile-arn", "Value": f"{prefix}:user-profile/{DOMAIN}/{profile}"},
        {"Key": "sagemaker:domain-arn", "Value": f"{prefix}:domain/{DOMAIN}"},
    ]


def _training(name: str, tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE_ARN,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://ml-data/{name}/"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://ml-artifacts/{name}/"},
        "ResourceConfig": {
            "InstanceType": "ml.g5.2xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 50,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        **({"Tags": tags} if tags else {}),
    }


@dataclass(frozen=True)
class Step:
    time: str
    actor: Actor
    operation: str  # the boto3 method
    params: dict[str, Any]
    story: str
    expect_error: bool = False


MORNING: Final = (
    Step("08:58", ALICE, "create_training_job", _training("bert-finetune-0603"),
         "fine-tunes BERT from a Studio notebook, no tags"),
    Step("09:05", DAVE, "create_processing_job", {
        "ProcessingJobName": "forecast-features-0603",
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": IMAGE},
        "RoleArn": ROLE_ARN,
        "Tags": _studio_tags("dave"),
    }, "builds forecast features; Studio adds only its system tags"),
    Step("09:12", CAROL, "create_hyper_parameter_tuning_job", {
        "HyperParameterTuningJobName": "demand-hpo-0603",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {
                "Type": "Minimize", "MetricName": "validation:rmse"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 50, "MaxParallelTrainingJobs": 5},
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE_ARN,
            "OutputDataConfig": {"S3OutputPath": "s3://ml-artifacts/demand-hpo/"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                               "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
        "Tags": _tags(Project="Beta-Forecast"),
    }, "tunes the demand model; she named the project"),
    Step("09:20", BOB, "create_model", {
        "ModelName": "sentiment-v2",
        "ExecutionRoleArn": ROLE_ARN,
        "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://ml-artifacts/sentiment/v2.tar.gz"},
    }, "registers a model"),
    Step("09:21", BOB, "create_endpoint_config", {
        "EndpointConfigName": "sentiment-v2-config",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "sentiment-v2",
                                "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    }, "configures an endpoint for it"),
    Step("09:23", BOB, "create_endpoint", {
        "EndpointName": "sentiment-prod", "EndpointConfigName": "sentiment-v2-config",
    }, "starts an always-on endpoint"),
    Step("09:31", CI, "create_transform_job", {
        "TransformJobName": "defect-batch-score-0603",
        "ModelName": "sentiment-v2",
        "TransformInput": {"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://ml-data/defects/"}}},
        "TransformOutput": {"S3OutputPath": "s3://ml-artifacts/defects/scores/"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
    }, "runs the nightly batch scoring, late"),
    Step("09:35", CAROL, "create_cluster", {
        "ClusterName": "forecast-hyperpod",
        "InstanceGroups": [{
            "InstanceCount": 4, "InstanceGroupName": "workers", "InstanceType": "ml.p5.48xlarge",
            "LifeCycleConfig": {
                "SourceS3Uri": "s3://sagemaker-lifecycle/hyperpod/", "OnCreate": "on_create.sh"},
            "ExecutionRole": ROLE_ARN, "ThreadsPerCore": 1,
        }],
    }, "starts a HyperPod cluster of four GPU nodes for a week of pre-training"),
    Step("09:40", FRANK, "create_notebook_instance", {
        "NotebookInstanceName": "frank-scratch",
        "InstanceType": "ml.t3.medium",
        "RoleArn": ROLE_ARN,
    }, "opens a notebook instance"),
    Step("09:45", GRACE, "create_training_job", _training("demand-lgbm-0603", _tags(
        Project="Beta-Forecast", CostCenter="CC-2002", Team="forecasting",
        Owner="grace@example.com", Environment="Staging", ML_Phase="Training",
    )), "trains with every tag set"),
    Step("09:50", ERIN, "create_training_job", _training("yolo-defects-0603", [
        {"Key": "project", "Value": "Gamma-Vision"},
    ]), "trains a detector, tagging 'project=Gamma-Vision'"),
    Step("09:55", FRANK, "create_endpoint", {
        "EndpointName": "frank-test", "EndpointConfigName": "does-not-exist",
    }, "tries an endpoint from a config that does not exist", expect_error=True),
    Step("10:02", BOB, "add_tags", {
        "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sentiment-prod",
        "Tags": _tags(Reviewed="yes"),
    }, "adds a tag of his own to his endpoint"),
)  # fmt: skip


# The afternoon: bob removes two tags; three jobs start whose CloudTrail events never arrive.
TAG_REMOVAL: Final = Step(
    "14:10",
    BOB,
    "delete_tags",
    {
        "ResourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/sentiment-prod",
        "TagKeys": ["Project", "CostCenter"],
    },
    "tidies his endpoint's tags, removing two required ones",
)
UNSEEN: Final = (
    (ALICE, _training("bert-eval-0603", _studio_tags("alice"))),
    (GRACE, _training(
        "forecast-backtest-0603", _tags(Project="Beta-Forecast", Owner="grace@example.com")
    )),
    (FRANK, _training("scratch-run-0603")),
)  # fmt: skip


# Last month's bill, as Cost Explorer would hold it: the month `autotag costs` answers by default.
MONTH: Final = costs.last_month(datetime.now(UTC).date())[0].isoformat()
SM: Final = "Amazon SageMaker"
BILLING: Final = (
    Line(MONTH, SM, "USE1-Train:ml.p4d.24xlarge", 2400.0,
         {"Project": "Alpha-NLP", "ML-Phase": "Training"}),
    Line(MONTH, SM, "USE1-Train:ml.g5.2xlarge", 600.0, {"Project": "Alpha-NLP"}),
    Line(MONTH, SM, "USE1-Host:ml.g5.xlarge", 900.0, {"Project": "Alpha-NLP"}),
    Line(MONTH, SM, "USE1-Notebk:ml.t3.medium", 100.0, {"Project": "Alpha-NLP"}),
    Line(MONTH, SM, "USE1-Train:ml.m5.xlarge", 1200.0,
         {"Project": "Beta-Forecast", "ML-Phase": "Training"}),
    Line(MONTH, SM, "USE1-Processing:ml.m5.xlarge", 300.0, {"Project": "Beta-Forecast"}),
    Line(MONTH, SM, "USE1-Host:ml.m5.large", 700.0,
         {"Project": "Beta-Forecast", "ML-Phase": "Inference"}),
    Line(MONTH, SM, "USE1-Train:ml.g5.2xlarge", 800.0,
         {"Project": "Gamma-Vision", "ML-Phase": "Training"}),
    Line(MONTH, SM, "USE1-Tsform:ml.m5.large", 400.0, {"Project": "Gamma-Vision"}),
    Line(MONTH, SM, "USE1-Notebk:ml.t3.medium", 100.0),  # nobody's: no Project tag
    Line(MONTH, SM, "USE1-Train:ml.g5.2xlarge", 500.0),  # nobody's
    Line(MONTH, SM, "USE1-Train:ml.p4d.24xlarge", -500.0,
         {"Project": "Alpha-NLP", "ML-Phase": "Training"}, "Credit"),  # credits are left out
    Line(MONTH, "Amazon Simple Storage Service", "USE1-TimedStorage-ByteHrs", 300.0,
         {"Project": "Alpha-NLP"}),  # not SageMaker
)  # fmt: skip


@dataclass
class Tally:
    resources: int = 0
    compliant_before: int = 0
    compliant_after: int = 0
    keys_missing: int = 0
    windows: int = 0  # notification windows opened: one message each when they close
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.resources} resources, {self.compliant_before} compliant before, "
            f"{self.compliant_after} compliant after, {self.keys_missing} keys still missing"
        )


def _tags_of(client: SageMakerClient, arn: str) -> dict[str, str]:
    listed = client.list_tags(ResourceArn=arn, MaxResults=100)["Tags"]
    return {tag["Key"]: tag.get("Value", "") for tag in listed}


def setup(emulator: Emulator, console: Console) -> Stack:
    """The stack's resources, the registry (through `autotag registry load`) and two Studio
    user profiles."""
    stack = emulator.provision()
    os.environ.update({**emulator.environ(), **stack.environ()})
    loaded = cli.main(["registry", "load", REGISTRY_FILE, "--table", stack.registry_table])
    if loaded != 0:
        raise RuntimeError("autotag registry load failed")
    cli.main(["subscribe", "--table", stack.registry_table, "--topic", stack.topic_arn])
    emulator.studio_profiles(DOMAIN, PROFILE_TAGS)
    for name, tags in PROFILE_TAGS.items():
        shown = ", ".join(f"{key}={value}" for key, value in tags.items())
        console.print(f"Studio user profile {name} in {DOMAIN}: {shown}")
    return stack


def play(
    *,
    step: Step,
    trail: CloudTrail,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    reader: SageMakerClient,
    tally: Tally,
    console: Console,
    required: tuple[str, ...],
) -> None:
    console.print(Rule(f"{step.time}  {step.actor.label}", align="left", style="cyan"))
    console.print(Text(f"{step.story}: {step.operation}"))
    client = trail.client(step.actor)
    try:
        getattr(client, step.operation)(**step.params)
    except client.exceptions.ClientError as error:
        if not step.expect_error:
            raise
        console.print(Text(f"SageMaker answered {error.response['Error']['Code']}", style="dim"))
    for event in trail.take():
        detail = event["detail"]
        if not template.rule_matches(event):
            why = f"errorCode {detail['errorCode']}" if "errorCode" in detail else "not a Create*"
            console.print(Text(f"{detail['eventName']}: ignored by the rule ({why})", style="dim"))
            continue
        arn = parse(event).resource.arn
        before = _tags_of(reader, arn)
        summary = handler(event, LocalContext())
        after = _tags_of(reader, arn)
        if summary["status"] == "skipped":
            tally.failures.append(f"{step.time} {detail['eventName']}: {summary['reason']}")
            continue
        tally.resources += 1
        tally.compliant_before += not summary["missingBefore"]
        tally.compliant_after += not summary["missing"]
        tally.keys_missing += len(summary["missing"])
        tally.windows += summary.get("notification") == "scheduled"
        console.print(
            Text.assemble(
                status_text(summary["status"]),
                f"  {arn}  ",
                f"(notified {summary['recipient']})" if summary["notified"] else "",
            )
        )
        console.print(before_after(summary, before, after, required))
        console.print(*problems_view(summary))


def fire_digests(emulator: Emulator, stack: Stack, console: Console, windows: int) -> None:
    """Deliver the digest queue's delayed messages to the digest function, as Lambda would."""
    event = emulator.sqs_event(stack.digest_queue_url, expect=windows)
    if not event["Records"]:
        return
    result = functions.module("notify_digest").lambda_handler(event, LocalContext())
    if result.get("batchItemFailures"):
        raise RuntimeError(f"the digest function failed on {result['batchItemFailures']}")
    console.print(f"{len(event['Records'])} notification windows closed; one message each")


def run(console: Console) -> int:
    sys.path.insert(0, os.path.join(ROOT, "functions", "tag_on_create"))
    from app import lambda_handler  # noqa: PLC0415  (the function's own entry point)

    required = registry_file.read_file(REGISTRY_FILE).config.policy.required
    tally = Tally()
    with Emulator() as emulator:
        console.print(Rule("Setting up: the local emulator, the stack, the registry", style="bold"))
        console.print(f"emulator at {emulator.endpoint}")
        stack = setup(emulator, console)
        trail = CloudTrail(emulator.session, emulator.endpoint)
        reader = emulator.sagemaker()
        console.print(Rule("A morning in the ML team", style="bold"))
        for step in MORNING:
            play(
                step=step,
                trail=trail,
                handler=lambda_handler,
                reader=reader,
                tally=tally,
                console=console,
                required=required,
            )
        console.print(Rule("10:05  the digest timers fire", style="bold"))
        fire_digests(emulator, stack, console, tally.windows)
        console.print(Rule("What people found in their inbox", style="bold"))
        by_recipient: dict[str, list[Notification]] = {}
        for note in emulator.notifications(stack):
            by_recipient.setdefault(note.recipient, []).append(note)
        for recipient, notes in sorted(by_recipient.items()):
            for note in notes:
                console.print(notification_panel(recipient, note.subject, note.body))
        console.print(Rule("14:10  what the Create* events cannot see", style="bold"))
        play(
            step=TAG_REMOVAL,
            trail=trail,
            handler=lambda_handler,
            reader=reader,
            tally=Tally(),
            console=console,
            required=required,
        )
        fire_digests(emulator, stack, console, 1)
        for note in emulator.notifications(stack):
            console.print(notification_panel(note.recipient, note.subject, note.body))
        audits = afternoon(trail, console)
        answer = cost_reports(console)
    console.print(Rule("Summary", style="bold"))
    console.print(f"Summary: {tally.line()}")
    console.print(f"Audit: {audits[0]} before the sweep, {audits[1]} after")
    for failure in tally.failures:
        console.print(Text(f"failed: {failure}", style="red"))
    console.print(answer, soft_wrap=True)  # one line, whatever the width
    return 1 if tally.failures else 0


def _audit(console: Console, when: str) -> str:
    """`autotag audit` as an operator runs it; returns its "compliant of total" figure."""
    console.print(Rule(f"$ autotag audit   ({when})", align="left", style="cyan"))
    if cli.main(["audit"]) != 0:
        raise RuntimeError("autotag audit failed")
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        cli.main(["audit", "--format", "json"])
    overall = json.loads(captured.getvalue())["overall"]
    return f"{overall['compliant']} of {overall['total']} resources compliant"


def afternoon(trail: CloudTrail, console: Console) -> tuple[str, str]:
    """Jobs whose CloudTrail events never reach EventBridge (CloudTrail's event history still
    has them); the audit, the sweep (which finds their creators there), the audit again."""
    for actor, params in UNSEEN:
        trail.client(actor).create_training_job(**params)
    trail.take()  # lost on the way: no event reaches the function
    names = ", ".join(str(p["TrainingJobName"]) for _, p in UNSEEN)
    console.print(Text(f"14:20  three training jobs start; their events are lost: {names}"))
    before = _audit(console, "how compliant are we?")
    console.print(Rule("$ the scheduled sweep runs (functions/sweep)", align="left", style="cyan"))
    sweep = functions.module("sweep")
    sweep.sweep.cache_clear()
    summary = sweep.lambda_handler({}, LocalContext(timeout_seconds=900))
    handled = ", ".join(f"{n} {status}" for status, n in sorted(summary["handled"].items()))
    console.print(
        f"sweep {summary['status']}: {summary['resources']} resources in {summary['pages']} pages "
        f"({summary['listing_calls']} listing calls), {summary['compliant']} compliant, "
        f"handled: {handled or 'none'}"
    )
    after = _audit(console, "after the sweep")
    return before, after


@contextlib.contextmanager
def _fresh_cache() -> Iterator[None]:
    """`autotag costs` keeps answers six hours under XDG_CACHE_HOME: a fresh folder, so that no
    earlier run answers, and the variable as it was afterwards."""
    kept = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory(prefix="autotag-demo-") as folder:
        os.environ["XDG_CACHE_HOME"] = folder
        try:
            yield
        finally:
            if kept is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = kept


def _costs(console: Console, *args: str) -> None:
    console.print(Rule(f"$ autotag costs {' '.join(args)}", align="left", style="cyan"))
    if cli.main(["costs", *args]) != 0:
        raise RuntimeError("autotag costs failed")


def cost_reports(console: Console) -> str:
    """Last month's bill (`BILLING`) in Cost Explorer; `autotag costs` as the operator types it;
    the CFO's answer, from the command's JSON."""
    when = date.fromisoformat(MONTH)
    console.print(Rule(f"Cost reports: last month, {when:%B %Y}", style="bold"))
    console.print(
        f"Cost Explorer holds {len(BILLING)} billing lines for {when:%B %Y}: two are nobody's, "
        "one is a credit, one is S3"
    )
    cost_explorer.seed(list(BILLING))
    try:
        with _fresh_cache():
            _costs(console, "--by", "project")
            _costs(console, "--project", "Alpha-NLP", "--by", "phase")
            with contextlib.redirect_stdout(io.StringIO()) as captured:
                status = cli.main(
                    ["costs", "--project", "Alpha-NLP", "--by", "phase", "--format", "json"]
                )
            if status != 0:
                raise RuntimeError("autotag costs --format json failed")
    finally:
        cost_explorer.seed([])
    report = json.loads(captured.getvalue())
    training = sum(row["amount"] for row in report["rows"] if row["phase"] == "Training")
    month = date.fromisoformat(report["period"]["start"])
    return (
        f"Alpha-NLP spent ${training:,.2f} on SageMaker training in {month:%B %Y}; "
        f"{report['unallocated_share'] * 100:.1f} % of SageMaker spend was unallocated"
    )


def main() -> int:
    console = Console()
    try:
        return run(console)
    except Exception as error:
        console.print(Text(f"demo failed: {type(error).__name__}: {error}", style="red"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
