"""Budgets per project: AWS Budgets made to match the registry (`autotag budgets sync`).

The budgets this tool owns are named `autotag-<project>`; no other budget is read for a change,
let alone touched. Each is a monthly cost budget of the project's amount, filtered to the
project's tag (`user:Project$<name>`) and to SageMaker, alerting the project's owner by e-mail
at the registry's percentages (forecast and actual). `plan` (pure) compares the registry with
what AWS holds; `apply` makes AWS hold it: created, updated, deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from autotag.costs import SAGEMAKER
from autotag.policy import PROJECT_KEY
from autotag.registry import ProjectEntry

PREFIX: Final = "autotag-"


@dataclass(frozen=True, order=True)
class Alert:
    kind: str  # FORECASTED | ACTUAL
    percent: float
    address: str  # the owner's e-mail
    # As AWS holds them: one changed by hand is another notification or subscriber than ours.
    channel: str = "EMAIL"  # the subscriber's SubscriptionType (EMAIL | SNS)
    operator: str = "GREATER_THAN"
    threshold_type: str = "PERCENTAGE"

    @property
    def notification(self) -> tuple[str, float, str, str]:
        return (self.kind, self.percent, self.operator, self.threshold_type)


@dataclass(frozen=True)
class Spec:
    """One owned budget as the registry wants it (or as AWS holds it)."""

    name: str
    project: str
    monthly: float
    alerts: frozenset[Alert] = frozenset()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What `autotag costs` counts: usage, without credits and refunds (AWS Budgets counts
    # both unless told not to).
    with_credits: bool = False
    # Planned or auto-adjusted limits set by hand: the registry's one monthly amount replaces
    # them.
    planned: bool = False

    def budget(self) -> dict[str, Any]:
        return {
            "BudgetName": self.name,
            "BudgetLimit": {"Amount": _amount(self.monthly), "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CostFilters": {key: list(values) for key, values in self.filters.items()},
            "CostTypes": {
                "IncludeCredit": self.with_credits,
                "IncludeRefund": self.with_credits,
            },
        }

    def describe(self) -> str:
        alerts = ", ".join(
            f"{a.kind.lower()} {a.percent:g} % to {a.address}" for a in sorted(self.alerts)
        )
        amount = f"{self.monthly:,.2f} USD a month on SageMaker"
        if self.planned:
            amount += " (planned limits)"
        if self.with_credits:
            amount += " (credits and refunds counted)"
        return f"{self.name}: {amount} for {self.project}; {alerts}"


@dataclass(frozen=True)
class Plan:
    create: tuple[Spec, ...] = ()
    update: tuple[tuple[Spec, Spec], ...] = ()  # (held, wanted)
    delete: tuple[Spec, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)

    def lines(self) -> list[str]:
        found = [f"+ {s.describe()}" for s in self.create]
        found += [f"~ {new.describe()} (was: {old.describe()})" for old, new in self.update]
        found += [f"- {s.name}" for s in self.delete]
        return found


def _amount(value: float) -> str:
    return f"{value:.2f}"


def wanted(projects: Iterable[ProjectEntry]) -> dict[str, Spec]:
    """The budgets the registry asks for: one per project with a budget and an owner."""
    found: dict[str, Spec] = {}
    for project in projects:
        if project.budget is None or not project.owner:
            continue
        name = PREFIX + project.name
        alerts = {Alert("FORECASTED", p, project.owner) for p in project.budget.forecast}
        alerts |= {Alert("ACTUAL", p, project.owner) for p in project.budget.actual}
        found[name] = Spec(
            name=name,
            project=project.name,
            monthly=round(project.budget.monthly, 2),
            alerts=frozenset(alerts),
            filters={
                "TagKeyValue": (f"user:{PROJECT_KEY}${project.name}",),
                "Service": (SAGEMAKER,),
            },
        )
    return found


def plan(want: Mapping[str, Spec], held: Mapping[str, Spec]) -> Plan:
    return Plan(
        create=tuple(want[n] for n in sorted(want) if n not in held),
        update=tuple((held[n], want[n]) for n in sorted(want) if n in held and held[n] != want[n]),
        delete=tuple(held[n] for n in sorted(held) if n not in want),
    )


# ------------------------------------------------------------------ AWS Budgets (I/O)


def held(client: Any, account: str) -> dict[str, Spec]:
    """The owned budgets AWS holds now (by name prefix), with their alerts."""
    found: dict[str, Spec] = {}
    token: str | None = None
    while True:
        page = client.describe_budgets(
            AccountId=account, MaxResults=100, **({"NextToken": token} if token else {})
        )
        for budget in page.get("Budgets", []):
            name = budget["BudgetName"]
            if name.startswith(PREFIX):
                found[name] = _spec(client, account, budget)
        token = page.get("NextToken")
        if not token:
            return found


def _spec(client: Any, account: str, budget: Mapping[str, Any]) -> Spec:
    name = budget["BudgetName"]
    alerts: set[Alert] = set()
    for notification in client.describe_notifications_for_budget(
        AccountId=account, BudgetName=name
    ).get("Notifications", []):
        subscribers = client.describe_subscribers_for_notification(
            AccountId=account, BudgetName=name, Notification=notification
        ).get("Subscribers", [])
        for subscriber in subscribers:
            alerts.add(
                Alert(
                    notification["NotificationType"],
                    float(notification["Threshold"]),
                    subscriber["Address"],
                    subscriber.get("SubscriptionType", "EMAIL"),
                    notification.get("ComparisonOperator", "GREATER_THAN"),
                    notification.get("ThresholdType", "PERCENTAGE"),
                )
            )
    filters = {k: tuple(v) for k, v in budget.get("CostFilters", {}).items()}
    counted = budget.get("CostTypes", {})
    return Spec(
        name=name,
        project=name.removeprefix(PREFIX),
        monthly=round(float(budget.get("BudgetLimit", {}).get("Amount", 0)), 2),
        alerts=frozenset(alerts),
        filters=filters,
        with_credits=bool(counted.get("IncludeCredit", True) or counted.get("IncludeRefund", True)),
        planned=bool(budget.get("PlannedBudgetLimits") or budget.get("AutoAdjustData")),
    )


def _notification(key: tuple[str, float, str, str]) -> dict[str, Any]:
    kind, percent, operator, threshold_type = key
    return {
        "NotificationType": kind,
        "ComparisonOperator": operator,
        "Threshold": percent,
        "ThresholdType": threshold_type,
    }


def _subscriber(channel: str, address: str) -> dict[str, str]:
    return {"SubscriptionType": channel, "Address": address}


def apply(client: Any, account: str, steps: Plan) -> None:
    for spec in steps.create:
        client.create_budget(
            AccountId=account,
            Budget=spec.budget(),
            NotificationsWithSubscribers=[
                {
                    "Notification": _notification(a.notification),
                    "Subscribers": [_subscriber(a.channel, a.address)],
                }
                for a in sorted(spec.alerts)
            ],
        )
    for old, new in steps.update:
        if old.budget() != new.budget() or old.planned:  # amount, filters, what is counted
            client.update_budget(AccountId=account, NewBudget=new.budget())
        _align_notifications(client, account, new.name, old.alerts, new.alerts)
    for spec in steps.delete:
        client.delete_budget(AccountId=account, BudgetName=spec.name)


def _by_notification(
    alerts: frozenset[Alert],
) -> dict[tuple[str, float, str, str], set[tuple[str, str]]]:
    found: dict[tuple[str, float, str, str], set[tuple[str, str]]] = {}
    for alert in alerts:
        found.setdefault(alert.notification, set()).add((alert.channel, alert.address))
    return found


def _align_notifications(
    client: Any, account: str, name: str, held: frozenset[Alert], wanted: frozenset[Alert]
) -> None:
    """Notifications gone from the registry (or changed by hand) are deleted, new ones
    created. One kept whose subscribers changed (a new owner, an address added by hand) loses
    the unwanted ones first but the last, gets the new one, then loses the last: it never
    goes empty (AWS then deletes it) nor over its 10 subscribers."""
    before, after = _by_notification(held), _by_notification(wanted)
    for key in sorted(before.keys() - after.keys()):
        client.delete_notification(
            AccountId=account, BudgetName=name, Notification=_notification(key)
        )
    for key, subscribers in sorted(after.items()):
        notification = _notification(key)
        if key not in before:
            client.create_notification(
                AccountId=account,
                BudgetName=name,
                Notification=notification,
                Subscribers=[_subscriber(*s) for s in sorted(subscribers)],
            )
            continue
        extra = sorted(before[key] - subscribers)
        ways = {"AccountId": account, "BudgetName": name, "Notification": notification}
        for channel, address in extra[:-1]:
            client.delete_subscriber(**ways, Subscriber=_subscriber(channel, address))
        for channel, address in sorted(subscribers - before[key]):
            client.create_subscriber(**ways, Subscriber=_subscriber(channel, address))
        for channel, address in extra[-1:]:
            client.delete_subscriber(**ways, Subscriber=_subscriber(channel, address))
