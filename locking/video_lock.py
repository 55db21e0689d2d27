"""A Redis lease per video id, renewed by a thread while the job runs.

Two keys per video:
- `papanoel:lock:<id>`: redis-py's Lock, with a TTL above the longest stage timeout, so a
  slow stage never loses it. It is the mutual exclusion.
- `papanoel:lock:<id>:alive`: a short-lived heartbeat the renewal thread refreshes. If the
  holder was SIGKILLed the lease would linger for its long TTL; the expired heartbeat
  tells the next worker the holder is gone, and it may take the lease over.

The lock is an efficiency guard, not a proof: side effects stay idempotent (see pipeline).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from redis import Redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

import events

log = logging.getLogger(__name__)

KEY_PREFIX = 'papanoel:lock:'


_DROP_STALE_LEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] and redis.call('exists', KEYS[2]) == 0 then
  return redis.call('del', KEYS[1])
end
return 0
"""


_RELEASE_OWN_LEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[2])
  return redis.call('del', KEYS[1])
end
return 0
"""


class LockBusy(Exception):
    """Another live worker holds this video's lock."""


def lock_key(video_id: str) -> str:
    return f'{KEY_PREFIX}{video_id}'


def alive_key(video_id: str) -> str:
    return f'{KEY_PREFIX}{video_id}:alive'


def holder_alive(conn: Redis, video_id: str) -> bool:
    return bool(conn.exists(alive_key(video_id)))


def force_release(conn: Redis, video_id: str) -> None:
    """Drop a lock whose holder is known dead (its work horse was killed by its own worker)."""
    conn.delete(lock_key(video_id), alive_key(video_id))


class VideoLock:
    def __init__(
        self,
        conn: Redis,
        video_id: str,
        *,
        ttl_seconds: float,
        heartbeat_seconds: float = 15.0,
        wait_seconds: float = 0.0,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.conn = conn
        self.video_id = video_id
        self.ttl = ttl_seconds
        self.heartbeat = heartbeat_seconds
        self.wait = wait_seconds
        #: Called when the lease is found gone or another holder's (the recovery sweep judged this
        #: holder dead): the holder must not go on to its next side effect.
        self.on_lost = on_lost
        # thread_local=False: the renewal thread extends a lock the job's thread acquired.
        self._lock: Lock = conn.lock(lock_key(video_id), timeout=ttl_seconds, thread_local=False)
        self._drop_stale = conn.register_script(_DROP_STALE_LEASE)
        self._release_own = conn.register_script(_RELEASE_OWN_LEASE)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock, waiting up to `wait_seconds` for a live holder; take over a dead holder's."""
        deadline = time.monotonic() + self.wait
        while not self._lock.acquire(blocking=False):
            if not holder_alive(self.conn, self.video_id) and self._take_over_if_still_dead():
                break
            if time.monotonic() >= deadline:
                raise LockBusy(f'video {self.video_id} is being produced by another worker')
            time.sleep(min(1.0, self.heartbeat / 3))
        self._beat()
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name=f'lock-{self.video_id}', daemon=True)
        self._renewer.start()

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        token = self._lock.local.token
        self._lock.local.token = None
        # A lease taken over meanwhile (its holder judged dead) is another holder's, and so is its
        # liveness key: deleting that would make a live holder look dead.
        keys = [lock_key(self.video_id), alive_key(self.video_id)]
        if token is None or not self._release_own(keys=keys, args=[token]):
            log.warning(events.LOCK_LOST, extra={'video_id': self.video_id})

    def still_ours(self) -> bool:
        token = self._lock.local.token
        return token is not None and self.conn.get(lock_key(self.video_id)) == token

    def ensure_ours(self) -> None:
        """Before a side effect: a lease that is no longer ours is left to whoever has it."""
        if not self.still_ours():
            self._lost()

    def _lost(self) -> None:
        log.error(events.LOCK_LOST, extra={'video_id': self.video_id})
        if self.on_lost is not None:
            self.on_lost()

    def __enter__(self) -> VideoLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _take_over_if_still_dead(self) -> bool:
        # A holder that just acquired may not have written its heartbeat yet: look twice.
        stale = self.conn.get(lock_key(self.video_id))
        time.sleep(min(1.0, self.heartbeat / 3))
        if stale is None or holder_alive(self.conn, self.video_id):
            return False
        # Delete only the stale lease we looked at; of two workers taking over, one wins the SET NX.
        if self._drop_stale(keys=[lock_key(self.video_id), alive_key(self.video_id)], args=[stale]):
            log.warning(events.LOCK_TAKEN_OVER, extra={'video_id': self.video_id})
        return bool(self._lock.acquire(blocking=False))

    def _beat(self) -> None:
        self.conn.set(alive_key(self.video_id), '1', px=int(self.heartbeat * 2000))

    def _renew(self) -> None:
        while not self._stop.wait(self.heartbeat / 3):
            try:
                self._lock.reacquire()
                self._beat()
            except LockNotOwnedError:  # Redis answered: the lease is gone or another holder's
                self._lost()
                return
            except Exception:  # Redis away: renew again on the next beat
                log.exception(events.LOCK_RENEW_FAILED, extra={'video_id': self.video_id})
