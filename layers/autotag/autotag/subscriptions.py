"""E-mail subscriptions to the notification topic: one per person, filtered on `recipient`.

Each subscription carries a filter policy, and SNS allows a topic only so many of them (the
"Filter policies per topic" quota: 200 by default, see the AWS General Reference page "Amazon
Simple Notification Service endpoints and quotas"). `subscribe` counts the policies the topic
holds and never creates a subscription that could not get its policy."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from autotag import aws
from autotag.registry_file import Registry

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import SubscriptionTypeDef

DEFAULT_QUOTA: Final = 200  # SNS's default "Filter policies per topic" (adjustable)
WARN_PERCENT: Final = 90  # warn when a run would take the topic to this share of its quota
SERVICE_CODE: Final = "sns"
# The Service Quotas code of SNS's "Filter Policies per Topic", as
# `aws service-quotas list-service-quotas --service-code sns` lists it. The AWS documentation on
# SNS quotas names the quota but not its code, so the warning prints that command as well, and
# `applied_quota` only believes an answer whose quota name speaks of filter policies.
QUOTA_CODE: Final = "L-B96EDA7D"
REFUSED: Final = "FilterPolicyLimitExceeded"  # SNS's error when a filter policy passes a quota


@dataclass(frozen=True)
class SubscribeResult:
    created: tuple[str, ...]
    kept: tuple[str, ...]
    blocked: tuple[str, ...] = ()  # not subscribed: their filter policy would pass the quota
    before: int = 0  # filter policies on the topic before the run
    wanted: int = 0  # filter policies after the run, were everyone subscribed
    after: int = 0  # filter policies on the topic after the run
    quota: int = DEFAULT_QUOTA
    # True when `before` is an upper bound (every subscription counted): the topic was so far
    # below the warning level that no filter policy needed reading.
    estimated: bool = False
    refused: str = ""  # SNS's message, when it refused a filter policy all the same

    @property
    def exceeded(self) -> bool:
        """The run needed more filter policies than the quota leaves (or SNS said so)."""
        return self.wanted > self.quota or bool(self.refused)

    @property
    def near(self) -> bool:
        """The run takes the topic to at least WARN_PERCENT of its quota."""
        return self.wanted * 100 >= self.quota * WARN_PERCENT

    def increase_command(self) -> str:
        """The AWS CLI call that asks for a quota with room for everyone, and some to spare."""
        desired = max(self.wanted + self.wanted // 4, self.quota + 1)
        return (
            f"aws service-quotas request-service-quota-increase --service-code {SERVICE_CODE} "
            f"--quota-code {QUOTA_CODE} --desired-value {desired}"
        )


def list_command() -> str:
    """The AWS CLI call that shows SNS's quotas with their codes and applied values."""
    return (
        f"aws service-quotas list-service-quotas --service-code {SERVICE_CODE} "
        "--query \"Quotas[?contains(QuotaName, 'Filter')]\""
    )


def applied_quota(client: Any) -> tuple[int | None, str]:
    """The applied "Filter policies per topic" quota from Service Quotas (`GetServiceQuota`, a
    Service Quotas client), or None and why not: access denied, no such quota here, no endpoint.
    The operator's own permission; nothing deployed calls it."""
    try:
        quota = client.get_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=QUOTA_CODE)["Quota"]
    except (ClientError, BotoCoreError) as error:
        return None, aws.error_code(error) or type(error).__name__
    name = str(quota.get("QuotaName", ""))
    if "filter" not in name.casefold():
        return None, f"{QUOTA_CODE} is {name!r} here"
    value = quota.get("Value")
    if not isinstance(value, int | float) or value < 1:
        return None, "no applied value"
    return int(value), ""


def recipients(registry: Registry) -> list[str]:
    """Everyone who can receive a notification: people with an e-mail and project owners."""
    emails = [person.email for person in registry.people if person.email]
    emails += [project.owner for project in registry.projects.values() if project.owner]
    return sorted(set(emails), key=str.casefold)


def filter_policy(email: str) -> str:
    """Messages to this address, however the registry spells it in one place or another
    (a person's e-mail, a project's owner): SNS compares attribute values by case."""
    return json.dumps({"recipient": [{"equals-ignore-case": email}]})


def _subscriptions(sns: SNSClient, topic_arn: str) -> list[SubscriptionTypeDef]:
    found: list[SubscriptionTypeDef] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        found.extend(page.get("Subscriptions", []))
    return found


def _has_filter_policy(sns: SNSClient, subscription: SubscriptionTypeDef) -> bool:
    arn = subscription.get("SubscriptionArn", "")
    if not arn.startswith("arn:"):
        # "PendingConfirmation": nothing to read until the address confirms. Counted: the
        # subscriptions this command makes carry a filter policy from the start.
        return True
    try:
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    except ClientError as error:
        if aws.error_code(error) == "NotFound":  # deleted since the listing
            return False
        raise
    return bool(attributes.get("FilterPolicy", "").strip())


def subscribe(
    sns: SNSClient, topic_arn: str, emails: Iterable[str], quota: int = DEFAULT_QUOTA
) -> SubscribeResult:
    """Subscribe each address that has no e-mail subscription yet; running it again changes
    nothing. Each subscription only receives messages whose `recipient` is that address.

    The topic holds at most `quota` filter policies: addresses beyond it are left unsubscribed
    (`blocked`). The subscriptions' filter policies are read (one `GetSubscriptionAttributes`
    each) only when the topic could be near its quota; below that every subscription counts as
    one, and `estimated` says so."""
    subscriptions = _subscriptions(sns, topic_arn)
    existing = {
        s.get("Endpoint", "").casefold() for s in subscriptions if s.get("Protocol") == "email"
    }
    kept: list[str] = []
    missing: list[str] = []
    for email in emails:
        if email.casefold() in existing:
            kept.append(email)
            continue
        existing.add(email.casefold())
        missing.append(email)

    before = len(subscriptions)  # an upper bound: each subscription holds at most one policy
    estimated = (before + len(missing)) * 100 < quota * WARN_PERCENT
    if not estimated:
        before = sum(_has_filter_policy(sns, s) for s in subscriptions)
    room = max(0, quota - before)
    created: list[str] = []
    refused = ""
    for email in missing[:room]:
        try:
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="email",
                Endpoint=email,
                Attributes={"FilterPolicy": filter_policy(email)},
            )
        except ClientError as error:
            if aws.error_code(error) != REFUSED:
                raise
            refused = aws.error_message(error) or REFUSED  # a quota lower than `quota` said
            break
        created.append(email)
    return SubscribeResult(
        created=tuple(created),
        kept=tuple(kept),
        blocked=tuple(missing[len(created) :]),
        before=before,
        wanted=before + len(missing),
        after=before + len(created),
        quota=quota,
        estimated=estimated,
        refused=refused,
    )
