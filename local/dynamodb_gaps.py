"""The DynamoDB behaviour moto 5 lacks: each write is atomic.

DynamoDB checks a write's condition and applies it as one step, so two conditional writes to
one item never both succeed on the same state. moto applies them in the calling thread with no
lock, and `ThreadedMotoServer` serves requests on threads: two concurrent conditional updates
can both pass their condition. `install()` serialises moto's item reads and writes behind one
lock, so that the emulator keeps DynamoDB's promise (the state table's claims and leases rely
on it).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Final

from moto.dynamodb.models import DynamoDBBackend

_LOCK: Final = threading.RLock()
_OPERATIONS: Final = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
)
_MARK: Final = "_autotag_atomic"


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    setattr(locked, _MARK, True)
    return locked


def install() -> None:
    """Serialise moto's DynamoDB item operations (once; calling again changes nothing)."""
    for name in _OPERATIONS:
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, _MARK, False):
            setattr(DynamoDBBackend, name, _atomic(method))
