"""Cancel an order on purpose: the supported way to take a job out of production.

Deleting its RQ job with `rq empty` or rq-dashboard is not: the reconciliation sweep puts
such a job back. Cancelling marks the record (failed, "canceled by an operator") and
removes its RQ job; a work horse that dequeued it a moment before sees the mark and stops.
"""

from __future__ import annotations

import logging

from redis import Redis, WatchError
from rq.job import Job

import events
from locking import holder_alive
from records import JobRecords, State, record_key
from utils.redis_values import text

log = logging.getLogger(__name__)


class CannotCancel(Exception):
    """Unknown order, already finished, or being produced right now."""


def cancel_order(conn: Redis, video_id: str) -> None:
    key = record_key(video_id)
    with conn.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                state = pipe.hget(key, 'state')
                if state is None:
                    raise CannotCancel(f'no video with id {video_id}')
                if text(state) not in (State.QUEUED.value, State.PROCESSING.value):
                    raise CannotCancel(f'video {video_id} is {text(state)}: nothing to cancel')
                if holder_alive(conn, video_id):
                    raise CannotCancel(f'video {video_id} is being produced right now; it cannot be canceled')
                pipe.multi()
                JobRecords.cancel(pipe, video_id)
                pipe.execute()
                break
            except WatchError:
                continue
    if conn.exists(Job.key_for(video_id)):
        Job.fetch(video_id, connection=conn).delete(remove_from_queue=True)
    log.warning(events.ORDER_CANCELED, extra={'video_id': video_id})


def is_canceled(conn: Redis, video_id: str) -> bool:
    return bool(conn.hexists(record_key(video_id), 'canceled_at'))
