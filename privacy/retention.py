"""The retention period, enforced: RETENTION_DAYS after delivery a video and everything personal
about its order are deleted together (privacy.forget). An order that failed for good is kept as
long from its failure (its dead-letter entry included), as the apology e-mail says.

`now` is a parameter so tests move the clock instead of waiting a month.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from redis import Redis

import events
from deadletter.queue import ENTRY_PREFIX
from privacy.forget import ForgetReport, Forgetter, video_ids
from records import JobRecord, JobRecords, State
from settings import Settings
from storage import Storage
from utils.redis_values import text

log = logging.getLogger(__name__)

DAY = 86400


@dataclass(frozen=True)
class Due:
    video_id: str
    since: float


def expires_at(record: JobRecord, retention_days: int) -> float | None:
    """When this record's retention ends; None while it is still being made."""
    if record.state is State.COMPLETED:
        return (record.completed_at or record.updated_at) + retention_days * DAY
    if record.state is State.FAILED:
        return record.updated_at + retention_days * DAY
    return None


def due(conn: Redis, retention_days: int, now: float) -> list[Due]:
    records = JobRecords(conn)
    found: dict[str, float] = {}
    for video_id in video_ids(conn):
        record = records.get(video_id)
        end = expires_at(record, retention_days) if record else None
        if end is not None and end <= now:
            found[video_id] = end
    # A dead-letter entry whose record is already gone still holds the order.
    for key in conn.scan_iter(match=ENTRY_PREFIX + '*', count=500):
        video_id = text(key).removeprefix(ENTRY_PREFIX)
        raw = conn.get(key)
        failed_at = float(json.loads(raw).get('failed_at', 0)) if raw else 0.0
        if video_id not in found and not conn.exists(f'papanoel:video:{video_id}') and failed_at:
            if failed_at + retention_days * DAY <= now:
                found[video_id] = failed_at + retention_days * DAY
    return [Due(video_id, since) for video_id, since in sorted(found.items())]


def purge(
    conn: Redis, storage: Storage, settings: Settings, *, now: float | None = None, dry_run: bool = False
) -> list[ForgetReport]:
    moment = time.time() if now is None else now
    forgetter = Forgetter(conn, storage, settings)
    reports = [forgetter.forget(d.video_id, reason='retention', dry_run=dry_run, now=moment)
               for d in due(conn, settings.retention_days, moment)]  # fmt: skip
    log.info(events.RETENTION_PURGE_DONE, extra={'dry_run': dry_run, 'videos': len(reports)})
    return reports
