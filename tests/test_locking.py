"""The per-video lock on a real Redis server."""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis

from locking import LockBusy, VideoLock, force_release, holder_alive
from locking.video_lock import alive_key, lock_key


def test_a_second_worker_cannot_take_a_held_lock(redis_conn: Redis) -> None:
    with VideoLock(redis_conn, 'v1', ttl_seconds=60, heartbeat_seconds=1):
        assert holder_alive(redis_conn, 'v1')
        with pytest.raises(LockBusy):
            VideoLock(redis_conn, 'v1', ttl_seconds=60, heartbeat_seconds=1, wait_seconds=1.5).acquire()
    assert not redis_conn.exists(lock_key('v1')) and not holder_alive(redis_conn, 'v1')


def test_a_waiting_worker_gets_the_lock_when_the_holder_releases_it(redis_conn: Redis) -> None:
    first = VideoLock(redis_conn, 'v2', ttl_seconds=60, heartbeat_seconds=1)
    first.acquire()
    threading.Timer(1.0, first.release).start()
    started = time.monotonic()
    with VideoLock(redis_conn, 'v2', ttl_seconds=60, heartbeat_seconds=1, wait_seconds=10):
        assert time.monotonic() - started >= 0.9


def test_the_lease_is_renewed_while_the_job_runs(redis_conn: Redis) -> None:
    with VideoLock(redis_conn, 'v3', ttl_seconds=2, heartbeat_seconds=0.6):
        time.sleep(3)  # longer than the TTL: only renewal keeps it
        assert redis_conn.exists(lock_key('v3')) and holder_alive(redis_conn, 'v3')


def test_a_dead_holders_lock_is_taken_over_quickly(redis_conn: Redis) -> None:
    # A holder SIGKILLed mid-job: its long lease remains, its liveness key expires.
    redis_conn.set(lock_key('v4'), 'dead-token', ex=3600)
    assert not redis_conn.exists(alive_key('v4'))
    started = time.monotonic()
    with VideoLock(redis_conn, 'v4', ttl_seconds=3600, heartbeat_seconds=0.6, wait_seconds=10):
        assert redis_conn.get(lock_key('v4')) != b'dead-token'
    assert time.monotonic() - started < 3


def test_two_takers_of_a_dead_lock_never_both_win(redis_conn: Redis) -> None:
    redis_conn.set(lock_key('v5'), 'dead-token', ex=3600)
    winners: list[str] = []
    errors: list[Exception] = []

    def take(name: str) -> None:
        lock = VideoLock(redis_conn, 'v5', ttl_seconds=3600, heartbeat_seconds=0.6, wait_seconds=1.5)
        try:
            lock.acquire()
        except LockBusy as exc:
            errors.append(exc)
            return
        winners.append(name)
        time.sleep(2)
        lock.release()

    threads = [threading.Thread(target=take, args=(f't{i}',)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(errors) == 3


def test_a_holder_whose_lock_was_taken_over_leaves_the_new_holders_lock_alone(redis_conn: Redis) -> None:
    first = VideoLock(redis_conn, 'v6', ttl_seconds=60, heartbeat_seconds=1)
    first.acquire()
    force_release(redis_conn, 'v6')  # the recovery sweep judged its holder dead
    with VideoLock(redis_conn, 'v6', ttl_seconds=60, heartbeat_seconds=1):
        taken_over = redis_conn.get(lock_key('v6'))
        first.release()
        assert redis_conn.get(lock_key('v6')) == taken_over
        assert holder_alive(redis_conn, 'v6')
    assert not redis_conn.exists(lock_key('v6')) and not holder_alive(redis_conn, 'v6')


def test_a_holder_learns_when_its_lease_goes_to_another(redis_conn: Redis) -> None:
    lost = threading.Event()
    first = VideoLock(redis_conn, 'v7', ttl_seconds=60, heartbeat_seconds=0.3, on_lost=lost.set)
    first.acquire()
    first.ensure_ours()
    assert first.still_ours() and not lost.is_set()
    force_release(redis_conn, 'v7')  # the recovery sweep judged its holder dead
    with VideoLock(redis_conn, 'v7', ttl_seconds=60, heartbeat_seconds=0.3):
        assert not first.still_ours()
        assert lost.wait(10), 'the renewal did not notice the lease went to another holder'
        lost.clear()
        first.ensure_ours()  # and so does the check before each stage
        assert lost.is_set()
        first.release()
