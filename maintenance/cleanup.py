"""Remove working files and finished job records past their age, never a running job's.

A working directory belongs to a live job while its video lock has a live holder or its
record says processing; those are always kept. Records of jobs in the dead-letter queue
are kept too: an admin retry needs them.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

import events
from deadletter import DeadLetterQueue
from locking import holder_alive
from queueing.records import KEY_PREFIX, JobRecords, State

log = logging.getLogger(__name__)


@dataclass
class CleanupReport:
    temp_paths: list[str] = field(default_factory=list)
    job_records: list[str] = field(default_factory=list)
    kept_live: list[str] = field(default_factory=list)


def cleanup(
    conn: Redis,
    temp_dir: Path,
    *,
    temp_max_age_hours: float,
    jobs_max_age_hours: float,
    dry_run: bool = False,
    now: float | None = None,
) -> CleanupReport:
    now = time.time() if now is None else now
    report = CleanupReport()
    records = JobRecords(conn)
    if temp_dir.is_dir():
        cutoff = now - temp_max_age_hours * 3600
        for path in sorted(temp_dir.iterdir()):
            if path.stat().st_mtime >= cutoff:
                continue
            record = records.get(path.name)
            if holder_alive(conn, path.name) or (record is not None and record.state is State.PROCESSING):
                report.kept_live.append(str(path))
                continue
            report.temp_paths.append(str(path))
            if not dry_run:
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)

    dead = DeadLetterQueue(conn)
    cutoff = now - jobs_max_age_hours * 3600
    for key in conn.scan_iter(match=KEY_PREFIX + '*', count=500):
        name = key.decode() if isinstance(key, bytes) else str(key)
        video_id = name.removeprefix(KEY_PREFIX)
        if ':' in video_id:  # a timeline or checkpoints key, removed with its record
            continue
        record = records.get(video_id)
        if record is None or record.state not in (State.COMPLETED, State.FAILED) or record.updated_at >= cutoff:
            continue
        if dead.contains(video_id):
            continue
        report.job_records.append(video_id)
        if not dry_run:
            with conn.pipeline() as pipe:
                records.delete(pipe, video_id)
                pipe.execute()
    counts = {'temp_paths': len(report.temp_paths), 'job_records': len(report.job_records),
              'kept_live': len(report.kept_live)}  # fmt: skip
    log.info(events.CLEANUP_DONE, extra={'dry_run': dry_run, **counts})
    return report
