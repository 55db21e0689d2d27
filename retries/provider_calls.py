"""Retrying one provider call: only transient errors, exponential backoff with full jitter,
never sooner than the server's Retry-After. Permanent errors, rejections and exhausted
quota go straight back to the chain, which moves on to the next provider."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

import events
from providers.errors import ProviderRateLimited, TransientProviderError

log = logging.getLogger(__name__)
T = TypeVar('T')


@dataclass(frozen=True)
class ProviderRetryPolicy:
    attempts: int = 3
    base_seconds: float = 1.0
    max_wait_seconds: float = 60.0

    def wait(self, attempt: int, error: BaseException | None, rng: Callable[[], float] = random.random) -> float:
        """Seconds before retry number `attempt` (1-based) after `error`."""
        backoff: float = rng() * min(self.max_wait_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
            backoff = max(backoff, error.retry_after)
        return min(backoff, self.max_wait_seconds)


def call_with_retries(
    provider: str, call: Callable[[], T], policy: ProviderRetryPolicy, *, sleep: Callable[[float], None] = time.sleep
) -> T:
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.wait(state.attempt_number, error)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            events.PROVIDER_RETRYING,
            extra={'provider': provider, 'attempt': state.attempt_number, 'error_type': type(error).__name__,
                   'wait_seconds': round(state.upcoming_sleep, 2)},
        )  # fmt: skip

    retrying = Retrying(
        retry=retry_if_exception_type(TransientProviderError),
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(call)
