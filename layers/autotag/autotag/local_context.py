"""A Lambda context for running the function's logic elsewhere: the CLI, the demo, tests."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class LocalContext:
    function_name: str = "sagemaker-autotag-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:sagemaker-autotag-local"
    )
    aws_request_id: str = "local"
    timeout_seconds: float = 60.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
