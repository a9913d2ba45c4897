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
                )
            )
    filters = {k: tuple(v) for k, v in budget.get("CostFilters", {}).items()}
    counted = budget.get("CostTypes", {})
    return Spec(
        name=name,
        project=name.removeprefix(PREFIX),
        # a budget switched to planned limits by hand has none: the registry's amount returns
        monthly=round(float(budget.get("BudgetLimit", {}).get("Amount", 0)), 2),
        alerts=frozenset(alerts),
        filters=filters,
        with_credits=bool(counted.get("IncludeCredit", True) or counted.get("IncludeRefund", True)),
    )


def _notification(alert: Alert) -> dict[str, Any]:
    return {
        "NotificationType": alert.kind,
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": alert.percent,
        "ThresholdType": "PERCENTAGE",
    }


def _subscriber(address: str) -> dict[str, str]:
    return {"SubscriptionType": "EMAIL", "Address": address}


def apply(client: Any, account: str, steps: Plan) -> None:
    for spec in steps.create:
        client.create_budget(
            AccountId=account,
            Budget=spec.budget(),
            NotificationsWithSubscribers=[
                {"Notification": _notification(a), "Subscribers": [_subscriber(a.address)]}
                for a in sorted(spec.alerts)
            ],
        )
    for old, new in steps.update:
        if old.budget() != new.budget():  # amount, filters, what is counted
            client.update_budget(AccountId=account, NewBudget=new.budget())
        _align_notifications(client, account, new.name, old.alerts, new.alerts)
    for spec in steps.delete:
        client.delete_budget(AccountId=account, BudgetName=spec.name)


def _by_notification(alerts: frozenset[Alert]) -> dict[tuple[str, float], set[str]]:
    found: dict[tuple[str, float], set[str]] = {}
    for alert in alerts:
        found.setdefault((alert.kind, alert.percent), set()).add(alert.address)
    return found


def _align_notifications(
    client: Any, account: str, name: str, held: frozenset[Alert], wanted: frozenset[Alert]
) -> None:
    """Notifications gone from the registry are deleted, new ones created; one kept whose
    subscribers changed (a new owner, an address added by hand) gets the new subscriber
    before the old one goes, so the owner's alert is never lost on the way."""
    before, after = _by_notification(held), _by_notification(wanted)
    for kind, percent in sorted(before.keys() - after.keys()):
        client.delete_notification(
            AccountId=account,
            BudgetName=name,
            Notification=_notification(Alert(kind, percent, "")),
        )
    for (kind, percent), addresses in sorted(after.items()):
        notification = _notification(Alert(kind, percent, ""))
        if (kind, percent) not in before:
            client.create_notification(
                AccountId=account,
                BudgetName=name,
                Notification=notification,
                Subscribers=[_subscriber(a) for a in sorted(addresses)],
            )
            continue
        for address in sorted(addresses - before[(kind, percent)]):
            client.create_subscriber(
                AccountId=account,
                BudgetName=name,
                Notification=notification,
                Subscriber=_subscriber(address),
            )
        for address in sorted(before[(kind, percent)] - addresses):
            client.delete_subscriber(
                AccountId=account,
                BudgetName=name,
                Notification=notification,
                Subscriber=_subscriber(address),
            )
