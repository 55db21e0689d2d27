"""Circuit breakers shared by all workers through a real Redis."""

from __future__ import annotations

from pathlib import Path

from redis import Redis

from breakers import BreakerBoard, BreakerState, CircuitBreaker
from chain import ChainContext, run_chain
from providers.base import ProviderSet
from providers.errors import ContentRejected, TransientProviderError
from providers.fake import FakeLipSync, FakeTTS

DOWN = TransientProviderError('sync', '503')


def breaker(conn: Redis, **kw: float) -> CircuitBreaker:
    return CircuitBreaker(conn, 'sync', threshold=int(kw.get('threshold', 3)), cooldown=kw.get('cooldown', 60))


def test_opens_after_consecutive_failures_for_every_worker(redis_conn: Redis) -> None:
    worker_a, worker_b = breaker(redis_conn), breaker(redis_conn)  # two workers, one Redis
    worker_a.record_failure(DOWN, now=100)
    worker_b.record_failure(DOWN, now=101)
    assert worker_a.allow(now=102)
    worker_a.record_failure(DOWN, now=102)
    assert worker_b.status(now=103).state is BreakerState.OPEN
    assert not worker_a.allow(now=103) and not worker_b.allow(now=150)


def test_a_success_resets_the_count(redis_conn: Redis) -> None:
    b = breaker(redis_conn)
    b.record_failure(DOWN, now=1)
    b.record_failure(DOWN, now=2)
    b.record_success()
    b.record_failure(DOWN, now=3)
    assert b.status(now=4).state is BreakerState.CLOSED


def test_after_the_cool_down_exactly_one_probe_decides(redis_conn: Redis) -> None:
    a, b = breaker(redis_conn, threshold=1, cooldown=60), breaker(redis_conn, threshold=1, cooldown=60)
    a.record_failure(DOWN, now=1000)
    assert a.status(now=1061).state is BreakerState.HALF_OPEN
    assert a.allow(now=1061)  # the probe
    assert not b.allow(now=1061)  # everyone else waits for its answer
    a.record_failure(DOWN, now=1062)  # the probe failed: a fresh cool-down
    assert not b.allow(now=1100)
    assert b.allow(now=1123)  # the next probe
    b.record_success()
    assert a.status(now=1124).state is BreakerState.CLOSED and a.allow(now=1124)


def test_rejected_content_says_nothing_about_provider_health(redis_conn: Redis) -> None:
    b = breaker(redis_conn, threshold=1)
    b.record_failure(ContentRejected('sync', 'REJECTED'), now=1)
    assert b.status(now=2).state is BreakerState.CLOSED


def test_the_chain_skips_a_provider_whose_circuit_is_open(
    redis_conn: Redis, tmp_path: Path, small_assets: Path
) -> None:
    board = BreakerBoard(redis_conn, threshold=2, cooldown=600)
    for _ in range(2):
        board.failure('fake-lipsync', DOWN)
    lipsync = FakeLipSync()
    ctx = ChainContext(
        script='Hola',
        language='es',
        base_video=small_assets / 'frame3_santa_base.mp4',
        workdir=tmp_path,
        providers=ProviderSet(tts=(FakeTTS(),), lipsync=(lipsync,)),
        breakers=board,
    )
    outcome = run_chain(ctx)
    assert outcome.strategy == 'voiceover' and lipsync.calls == 0
    assert ('lipsync', 'skipped', 'circuit open', 'fake-lipsync') in [
        (a.strategy, a.outcome, a.reason, a.provider) for a in outcome.attempts
    ]


def test_failures_through_the_chain_open_the_circuit(redis_conn: Redis, tmp_path: Path, small_assets: Path) -> None:
    board = BreakerBoard(redis_conn, threshold=2, cooldown=600)
    for _ in range(3):
        lipsync = FakeLipSync(failures=[DOWN])
        ctx = ChainContext(script='Hola', language='es', base_video=small_assets / 'frame3_santa_base.mp4',
                           workdir=tmp_path, providers=ProviderSet(tts=(FakeTTS(),), lipsync=(lipsync,)),
                           breakers=board)  # fmt: skip
        run_chain(ctx)
    assert board.breaker('fake-lipsync').status().state is BreakerState.OPEN
    assert lipsync.calls == 0  # the third order did not even try it


def test_the_last_tts_is_called_even_with_its_circuit_open(
    redis_conn: Redis, tmp_path: Path, small_assets: Path
) -> None:
    board = BreakerBoard(redis_conn, threshold=1, cooldown=600)
    first, last = FakeTTS('paid-tts'), FakeTTS('local-tts')
    board.failure('paid-tts', TransientProviderError('paid-tts', '503'))
    board.failure('local-tts', TransientProviderError('local-tts', 'crashed'))
    ctx = ChainContext(script='Hola', language='es', base_video=small_assets / 'frame3_santa_base.mp4',
                       workdir=tmp_path, providers=ProviderSet(tts=(first, last)), breakers=board)  # fmt: skip
    outcome = run_chain(ctx)
    assert outcome.strategy == 'voiceover' and (first.calls, last.calls) == (0, 1)
    assert ('voiceover', 'skipped', 'circuit open', 'paid-tts') in [
        (a.strategy, a.outcome, a.reason, a.provider) for a in outcome.attempts
    ]
    # Its success is recorded: the circuit closes for everyone.
    assert board.breaker('local-tts').status().state is BreakerState.CLOSED


def test_health_reports_an_open_circuit_as_degraded_with_its_cool_down(
    redis_conn: Redis, tmp_path: Path, small_assets: Path
) -> None:
    from monitoring.health import _providers
    from settings import Settings

    settings = Settings(breaker_failure_threshold=1, breaker_cooldown_seconds=600)
    board = BreakerBoard(redis_conn, threshold=1, cooldown=600)
    board.failure('fake-lipsync', DOWN)
    check = _providers(settings, redis_conn, ProviderSet(tts=(FakeTTS(),), lipsync=(FakeLipSync(),)), deep=False)
    assert not check.ok and check.degraded
    assert 'fake-lipsync: circuit open, cool-down' in check.detail and 'degraded' in check.detail
    assert 590 < check.data['fake-lipsync']['cooldown_remaining_seconds'] <= 600
