"""Whole-job attempts, on RQ's own Retry (the worker's scheduler runs the delayed ones)."""

from __future__ import annotations

from collections.abc import Sequence

from rq import Retry


def job_retry(max_attempts: int, delays_seconds: Sequence[int]) -> Retry | None:
    """RQ retries after the first attempt; None when only one attempt is allowed."""
    if max_attempts <= 1:
        return None
    delays = list(delays_seconds[: max_attempts - 1]) or [0]
    return Retry(max=max_attempts - 1, interval=delays)
