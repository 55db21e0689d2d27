"""Polling a remote job until it reaches a terminal status, with backoff, under an overall deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from providers.errors import ProviderRateLimited, ProviderTimeout, TransientProviderError

T = TypeVar('T')


@dataclass(frozen=True)
class PollPolicy:
    first_delay: float = 2.0
    max_delay: float = 15.0
    factor: float = 1.5
    deadline: float = 600.0  # seconds for the whole remote job


def poll_until(
    provider: str,
    check: Callable[[], T | None],
    policy: PollPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `check` until it returns a result (it raises on a terminal failure).

    A transient error from one poll does not end the wait: the next poll may succeed.
    A rate-limited poll waits at least as long as the server asked. Past the deadline
    the job counts as timed out.
    """
    deadline = clock() + policy.deadline
    delay = policy.first_delay
    last_error: TransientProviderError | None = None
    while True:
        wait = delay
        try:
            result = check()
        except ProviderRateLimited as exc:
            last_error = exc
            wait = max(delay, exc.retry_after or 0.0)
        except TransientProviderError as exc:
            last_error = exc
        else:
            if result is not None:
                return result
        if clock() + wait > deadline:
            why = f' (last error: {last_error.message})' if last_error else ''
            raise ProviderTimeout(provider, f'not finished within {policy.deadline:g} s{why}')
        sleep(wait)
        delay = min(delay * policy.factor, policy.max_delay)
