"""The AWS Budgets behaviour moto 5 lacks: UpdateBudget and DescribeSubscribersForNotification,
answered from moto's own budgets (`install()` patches its response class)."""

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
    budget = _budget(self, self._get_param("BudgetName"))
    wanted = self._get_param("Notification")
    for notification in budget.notifications:
        if notification.details == wanted:
            return json.dumps({"Subscribers": notification.subscribers})
    raise NotFoundException("Unable to find the notification.")


def install() -> None:
    """Patch moto's Budgets responses (idempotent)."""
    BudgetsResponse.update_budget = update_budget  # type: ignore[attr-defined]
    BudgetsResponse.describe_subscribers_for_notification = (  # type: ignore[attr-defined]
        describe_subscribers_for_notification
    )
