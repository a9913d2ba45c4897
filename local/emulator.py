"""The local emulator: a moto server on 127.0.0.1 with SageMaker's gaps filled (see
`sagemaker_gaps`), and the stack's resources provisioned in it. Never deployed.

    python -m local.emulator            # serve on 127.0.0.1:5000 until Ctrl-C

Point any client at it with AWS_ENDPOINT_URL=http://127.0.0.1:5000.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from functools import cache, cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from autotag import registry_file
from autotag.state import EXPIRES as STATE_EXPIRY
from autotag.state import KEY as STATE_KEY
from local import (
    budgets_gaps,
    cloudtrail_lookup,
    cloudwatch_gaps,
    cost_explorer,
    dynamodb_gaps,
    sagemaker_gaps,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import UserSettingsTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

ACCOUNT: Final = "123456789012"  # moto's default account, also the corpus's
REGION: Final = "us-east-1"
# The Studio domain's execution role in the corpus (events/README.md).
STUDIO_EXECUTION_ROLE: Final = (
    f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-20240601T120000"
)
# Every required key of examples/registry.yaml, for Alpha-NLP's alice: a compliant resource.
COMPLIANT_TAGS: Final = {
    "Project": "Alpha-NLP",
    "CostCenter": "CC-1001",
    "Team": "nlp",
    "Owner": "alice@example.com",
    "Environment": "Development",
    "ML-Phase": "Training",
}
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class Stack:
    """The emulated counterparts of the stack's resources."""

    registry_table: str
    topic_arn: str
    inbox_url: str  # an SQS queue subscribed to the topic, to read what people receive
    state_table: str
    dead_letter_url: str  # the rule's dead-letter queue
    failed_events_url: str  # the function's on-failure destination
    digest_queue_url: str  # the notification windows' timer
    digest_dead_letter_url: str = ""  # timers the digest function failed on

    def environ(self) -> dict[str, str]:
        """The function's environment variables, as template.yaml sets them."""
        return {
            "REGISTRY_TABLE": self.registry_table,
            "NOTIFY_TOPIC_ARN": self.topic_arn,
            "STATE_TABLE": self.state_table,
            "DIGEST_QUEUE_URL": self.digest_queue_url,
            "ALLOWED_ACCOUNTS": ACCOUNT,
            "ALLOWED_REGIONS": REGION,
        }


@dataclass(frozen=True)
class Notification:
    subject: str
    body: str
    attributes: dict[str, str]

    @property
    def recipient(self) -> str:
        return self.attributes.get("recipient", "")

    @property
    def outcome(self) -> str:
        return self.attributes.get("outcome", "")


class Emulator:
    """Start, use and stop the emulator; `with Emulator() as emu:` does all three."""

    def __init__(self, port: int = 0, region: str = REGION, *, in_process: bool = False) -> None:
        """`in_process=True` skips HTTP: moto answers inside this process (only this process's
        clients reach it), for runs where the server's round trips would dominate."""
        self.region = region
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._mock: Any = mock_aws() if in_process else None
        self.endpoint = ""

    def start(self) -> Emulator:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        sagemaker_gaps.install()
        dynamodb_gaps.install()
        cost_explorer.install()
        budgets_gaps.install()
        cloudwatch_gaps.install()
        cloudtrail_lookup.install()
        if self._mock is not None:
            self._mock.start()
            return self
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            return
        self._server.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def environ(self) -> dict[str, str]:
        """What a process needs to talk to the emulator instead of AWS."""
        return {
            **({"AWS_ENDPOINT_URL": self.endpoint} if self.endpoint else {}),
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **FAKE_CREDENTIALS,
        }

    @cached_property
    def session(self) -> boto3.Session:
        """A session of its own: the emulator's calls never mix with the code under test's."""
        return boto3.Session(
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
        )

    @cache  # noqa: B019  (one client per emulator, kept as long as it runs)
    def sagemaker(self) -> SageMakerClient:
        return self.session.client("sagemaker", endpoint_url=self.endpoint or None)

    @cache  # noqa: B019
    def dynamodb(self) -> DynamoDBClient:
        return self.session.client("dynamodb", endpoint_url=self.endpoint or None)

    @cache  # noqa: B019
    def sns(self) -> SNSClient:
        return self.session.client("sns", endpoint_url=self.endpoint or None)

    @cache  # noqa: B019
    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self.endpoint or None)

    def reset(self) -> None:
        """Forget every resource (moto's /moto-api/reset)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310  (loopback only)
            pass

    def provision(self, name: str = "autotag") -> Stack:
        """Create the stack's registry table and topic, and an inbox queue on the topic."""
        table = f"{name}-registry"
        dynamodb = self.dynamodb()
        if not registry_file.table_exists(dynamodb, table):
            registry_file.create_table(dynamodb, table)
        state = f"{name}-state"
        if not registry_file.table_exists(dynamodb, state):
            dynamodb.create_table(
                TableName=state,
                AttributeDefinitions=[{"AttributeName": STATE_KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": STATE_KEY, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            dynamodb.update_time_to_live(
                TableName=state,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": STATE_EXPIRY},
            )
        topic_arn = self.sns().create_topic(Name=f"{name}-notifications")["TopicArn"]
        sqs = self.sqs()
        inbox_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns().subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        return Stack(
            registry_table=table,
            topic_arn=topic_arn,
            inbox_url=inbox_url,
            state_table=state,
            dead_letter_url=sqs.create_queue(QueueName=f"{name}-dead-letter")["QueueUrl"],
            failed_events_url=sqs.create_queue(QueueName=f"{name}-failed-events")["QueueUrl"],
            digest_queue_url=sqs.create_queue(QueueName=f"{name}-digest")["QueueUrl"],
            digest_dead_letter_url=sqs.create_queue(QueueName=f"{name}-digest-dead-letter")[
                "QueueUrl"
            ],
        )

    def notifications(self, stack: Stack) -> list[Notification]:
        """Drain the inbox: every notification published since the last call."""
        sqs = self.sqs()
        found: list[Notification] = []
        while True:
            response = sqs.receive_message(
                QueueUrl=stack.inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = {
                    key: value.get("Value", "")
                    for key, value in envelope.get("MessageAttributes", {}).items()
                }
                found.append(
                    Notification(envelope.get("Subject", ""), envelope["Message"], attributes)
                )
                sqs.delete_message(QueueUrl=stack.inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def sqs_event(self, queue_url: str, expect: int = 0, timeout: float = 5.0) -> dict[str, Any]:
        """Take the visible messages of a queue as the SQS event Lambda would deliver (they are
        deleted: the caller plays Lambda's poller), waiting up to `timeout` seconds for at
        least `expect` of them (delayed messages become visible late)."""
        sqs = self.sqs()
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            response = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = response.get("Messages", [])
            if not messages:
                if len(records) >= expect or time.monotonic() > deadline:
                    return {"Records": records}
                time.sleep(0.1)
                continue
            for message in messages:
                records.append(
                    {
                        "messageId": message["MessageId"],
                        "receiptHandle": message["ReceiptHandle"],
                        "body": message["Body"],
                        "attributes": {},
                        "messageAttributes": {},
                        "md5OfBody": message.get("MD5OfBody", ""),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": arn,
                        "awsRegion": self.region,
                    }
                )
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def studio_profiles(
        self,
        domain_id: str,
        profiles: dict[str, dict[str, str]],
        execution_role: str | None = STUDIO_EXECUTION_ROLE,
    ) -> None:
        """Studio user profiles in `domain_id`, each with its tags, whose sessions run as
        `execution_role` (the role a Studio claim is checked against); None: the domain's
        default role (`studio_domain`)."""
        sagemaker = self.sagemaker()
        settings: UserSettingsTypeDef = {"ExecutionRole": execution_role} if execution_role else {}
        for name, tags in profiles.items():
            sagemaker.create_user_profile(
                DomainId=domain_id,
                UserProfileName=name,
                Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
                UserSettings=settings,
            )

    def studio_domain(self, domain_id: str, execution_role: str = STUDIO_EXECUTION_ROLE) -> None:
        """A Studio domain whose profiles run as `execution_role` unless they name their own
        (moto makes up domain ids of its own: this one is seeded)."""
        arn = f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:domain/{domain_id}"
        self.seed_resource(
            arn,
            {},
            {
                "DomainId": domain_id,
                "DomainArn": arn,
                "Status": "InService",
                "DefaultUserSettings": {"ExecutionRole": execution_role},
            },
        )

    @staticmethod
    def seed_resource(
        arn: str, tags: dict[str, str] | None = None, description: dict[str, Any] | None = None
    ) -> None:
        """A resource of any kind at `arn`, holding `tags` (see sagemaker_gaps.seed_resource)."""
        sagemaker_gaps.seed_resource(arn, tags, description)

    @staticmethod
    def seed_trail(record: dict[str, Any]) -> None:
        """A CloudTrail record (an event's `detail`) that LookupEvents will return; reset
        forgets it (see cloudtrail_lookup.seed)."""
        cloudtrail_lookup.seed(record)


def main() -> int:
    port = int(os.environ.get("EMULATOR_PORT", "5000"))
    with Emulator(port=port) as emulator:
        stack = emulator.provision()
        for key, value in {**emulator.environ(), **stack.environ()}.items():
            sys.stdout.write(f"export {key}={value}\n")
        sys.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
