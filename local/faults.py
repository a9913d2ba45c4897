"""Fault injection on botocore's real send path.

A `before-send` handler answers chosen operations with an error response instead of sending
them, so botocore's own retry logic (standard or adaptive mode) sees real throttling or denials.
A Stubber would bypass that logic and prove nothing about retries.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.hooks import BaseEventHooks


class _Body:
    """The bit of urllib3's response that AWSResponse reads."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload


@dataclass
class Faults:
    """Fail `rate` of the calls to `operations` (e.g. {"sagemaker.ListTags"}) with `code`."""

    operations: frozenset[str]
    rate: float = 1.0
    code: str = "ThrottlingException"
    status: int = 400
    seed: int = 7
    limit: int | None = None  # fail at most this many attempts, then let everything through
    matching: bytes = b""  # only requests whose body holds this (e.g. a key prefix)
    after: int = 0  # let this many matching attempts through first
    sent: Counter[str] = field(default_factory=Counter)  # every attempt, by operation
    failed: Counter[str] = field(default_factory=Counter)  # the attempts answered with an error

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311  (test faults, not crypto)

    def install(self, events: BaseEventHooks) -> None:
        for operation in self.operations:
            events.register(f"before-send.{operation}", self._answer)  # type: ignore[arg-type]

    def uninstall(self, events: BaseEventHooks) -> None:
        for operation in self.operations:
            events.unregister(f"before-send.{operation}", self._answer)  # type: ignore[arg-type]

    def _answer(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.removeprefix("before-send.")
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        if self.matching and self.matching not in body:
            return None
        self.sent[operation] += 1
        if sum(self.sent.values()) <= self.after:
            return None
        exhausted = self.limit is not None and sum(self.failed.values()) >= self.limit
        if exhausted or self._random.random() >= self.rate:
            return None  # send it for real
        self.failed[operation] += 1
        headers = HTTPHeaders()
        headers["x-amzn-requestid"] = f"fault-{sum(self.failed.values())}"
        if b"Action=" in body:  # a query-protocol service (SNS): an XML error, as AWS sends
            body = (
                "<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{self.code}</Code><Message>injected {self.code}</Message>"
                "</Error><RequestId>fault</RequestId></ErrorResponse>"
            ).encode()
            headers["content-type"] = "text/xml"
        else:
            body = json.dumps({"__type": self.code, "message": f"injected {self.code}"}).encode()
            headers["content-type"] = "application/x-amz-json-1.1"
        headers["content-length"] = str(len(body))
        return AWSResponse(request.url, self.status, headers, _Body(body))
