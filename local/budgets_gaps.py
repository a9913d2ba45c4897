"""The AWS Budgets behaviour moto 5 lacks: UpdateBudget, DescribeSubscribersForNotification,
CreateSubscriber and DeleteSubscriber, answered from moto's own budgets (`install()` patches its
response class)."""

from __future__ import annotations

import json
from typing import Any

from moto.budgets.exceptions import NotFoundException
from moto.budgets.responses import BudgetsResponse


def _budget(self: BudgetsResponse, name: str) -> Any:
    found = self.backend.budgets[self._get_param("AccountId")].get(name)
    if found is None:
        raise NotFoundException(f"Unable to get budget: {name} - the budget doesn't exist.")
    return found


def update_budget(self: BudgetsResponse) -> str:
    new = self._get_param("NewBudget")
    budget = _budget(self, new["BudgetName"])
    kept = {k: v for k, v in budget.budget.items() if k in ("TimePeriod", "LastUpdatedTime")}
    budget.budget = {**new, **kept}
    return json.dumps({})


def describe_subscribers_for_notification(self: BudgetsResponse) -> str:
    return json.dumps({"Subscribers": _notification(self).subscribers})


def _notification(self: BudgetsResponse) -> Any:
    budget = _budget(self, self._get_param("BudgetName"))
    wanted = self._get_param("Notification")
    for notification in budget.notifications:
        if notification.details == wanted:
            return notification
    raise NotFoundException("Unable to find the notification.")


def create_subscriber(self: BudgetsResponse) -> str:
    notification = _notification(self)
    notification.subscribers = [*notification.subscribers, self._get_param("Subscriber")]
    return json.dumps({})


def delete_subscriber(self: BudgetsResponse) -> str:
    notification = _notification(self)
    gone = self._get_param("Subscriber")
    if gone not in notification.subscribers:
        raise NotFoundException("Unable to find the subscriber.")
    notification.subscribers = [s for s in notification.subscribers if s != gone]
    if not notification.subscribers:  # AWS deletes a notification with its last subscriber
        budget = _budget(self, self._get_param("BudgetName"))
        budget.notifications = [n for n in budget.notifications if n is not notification]
    return json.dumps({})


def install() -> None:
    """Patch moto's Budgets responses (idempotent)."""
    BudgetsResponse.update_budget = update_budget  # type: ignore[attr-defined]
    BudgetsResponse.describe_subscribers_for_notification = (  # type: ignore[attr-defined]
        describe_subscribers_for_notification
    )
    BudgetsResponse.create_subscriber = create_subscriber  # type: ignore[attr-defined]
    BudgetsResponse.delete_subscriber = delete_subscriber  # type: ignore[attr-defined]
