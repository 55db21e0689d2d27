"""Provider-call retries and each class of provider fault through the chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain import ChainContext, run_chain
from providers.base import ProviderSet
from providers.errors import (
    ContentRejected,
    PermanentProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    QuotaExhausted,
    TransientProviderError,
)
from providers.fake import FakeLipSync, FakeTTS
from retries import ProviderRetryPolicy, call_with_retries, job_retry


class Flaky:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return 'ok'


def test_transient_errors_are_retried_with_growing_jittered_backoff() -> None:
    sleeps: list[float] = []
    call = Flaky(TransientProviderError('x', '503'), ProviderTimeout('x', 'slow'))
    policy = ProviderRetryPolicy(attempts=3, base_seconds=1, max_wait_seconds=60)
    assert call_with_retries('x', call, policy, sleep=sleeps.append) == 'ok'
    assert call.calls == 3
    assert 0 <= sleeps[0] <= 1 and 0 <= sleeps[1] <= 2


def test_retry_after_is_honoured() -> None:
    sleeps: list[float] = []
    call = Flaky(ProviderRateLimited('x', '429', retry_after=7))
    call_with_retries('x', call, ProviderRetryPolicy(attempts=2, base_seconds=0.01), sleep=sleeps.append)
    assert sleeps == [7]


def test_retry_after_is_capped() -> None:
    sleeps: list[float] = []
    call = Flaky(ProviderRateLimited('x', '429', retry_after=3600))
    call_with_retries('x', call, ProviderRetryPolicy(attempts=2, max_wait_seconds=30), sleep=sleeps.append)
    assert sleeps == [30]


@pytest.mark.parametrize(
    'error', [PermanentProviderError('x', '401'), ContentRejected('x', 'nsfw'), QuotaExhausted('x', 'credits')]
)
def test_permanent_errors_are_not_retried(error: Exception) -> None:
    call = Flaky(error)
    with pytest.raises(type(error)):
        call_with_retries('x', call, ProviderRetryPolicy(attempts=5), sleep=lambda s: None)
    assert call.calls == 1


def test_transient_errors_give_up_after_the_last_attempt() -> None:
    call = Flaky(*(TransientProviderError('x', '500') for _ in range(5)))
    with pytest.raises(TransientProviderError):
        call_with_retries('x', call, ProviderRetryPolicy(attempts=3), sleep=lambda s: None)
    assert call.calls == 3


def test_job_retry_budget() -> None:
    assert job_retry(1, [10]) is None
    retry = job_retry(3, [10, 60, 600])
    assert retry is not None and retry.max == 2 and retry.intervals == [10, 60]


@pytest.mark.parametrize(
    ('fault', 'calls', 'strategy'),
    [
        (TransientProviderError('lip', '502'), 2, 'lipsync'),  # retried once, then works
        (ProviderRateLimited('lip', '429', retry_after=0), 2, 'lipsync'),
        (ProviderTimeout('lip', 'read timeout'), 2, 'lipsync'),
        (PermanentProviderError('lip', '401'), 1, 'voiceover'),  # no retry: next strategy
        (ContentRejected('lip', 'REJECTED'), 1, 'voiceover'),
        (QuotaExhausted('lip', '402'), 1, 'voiceover'),
    ],
)
def test_each_class_of_provider_fault(
    tmp_path: Path, small_assets: Path, fault: Exception, calls: int, strategy: str
) -> None:
    lipsync = FakeLipSync('lip', failures=[fault])  # type: ignore[list-item]
    ctx = ChainContext(
        script='Hola',
        language='es',
        base_video=small_assets / 'frame3_santa_base.mp4',
        workdir=tmp_path,
        providers=ProviderSet(tts=(FakeTTS(),), lipsync=(lipsync,)),
        retry_policy=ProviderRetryPolicy(attempts=2, base_seconds=0, max_wait_seconds=0),
    )
    assert run_chain(ctx).strategy == strategy
    assert lipsync.calls == calls
