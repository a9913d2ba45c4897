"""One small TTL cache for everything kept in a warm container (registry items, Studio
profiles, parent resources, CloudTrail look-ups)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """`get(key, fetch)`: the cached value while fresh, else `fetch()`'s (cached for `ttl` s).
    A fetch that raises caches nothing."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K, fetch: Callable[[], V]) -> V:
        now = self._clock()
        cached = self._items.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        value = fetch()
        self._items[key] = (now + self._ttl, value)
        return value
