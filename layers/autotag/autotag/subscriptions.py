"""E-mail subscriptions to the notification topic: one per person, filtered on `recipient`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autotag.registry_file import Registry

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True)
class SubscribeResult:
    created: tuple[str, ...]
    kept: tuple[str, ...]


def recipients(registry: Registry) -> list[str]:
    """Everyone who can receive a notification: people with an e-mail and project owners."""
    emails = [person.email for person in registry.people if person.email]
    emails += [project.owner for project in registry.projects.values() if project.owner]
    return sorted(set(emails), key=str.casefold)


def filter_policy(email: str) -> str:
    return json.dumps({"recipient": [email]})


def _existing(sns: SNSClient, topic_arn: str) -> set[str]:
    found: set[str] = set()
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription.get("Protocol") == "email":
                found.add(subscription.get("Endpoint", "").casefold())
    return found


def subscribe(sns: SNSClient, topic_arn: str, emails: Iterable[str]) -> SubscribeResult:
    """Subscribe each address that has no e-mail subscription yet; running it again changes
    nothing. Each subscription only receives messages whose `recipient` is that address."""
    existing = _existing(sns, topic_arn)
    created: list[str] = []
    kept: list[str] = []
    for email in emails:
        if email.casefold() in existing:
            kept.append(email)
            continue
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="email",
            Endpoint=email,
            Attributes={"FilterPolicy": filter_policy(email)},
        )
        existing.add(email.casefold())
        created.append(email)
    return SubscribeResult(tuple(created), tuple(kept))
