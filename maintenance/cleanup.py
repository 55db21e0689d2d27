"""Remove working files past their age, never a running job's.

A working directory belongs to a live job while its video lock has a live holder or its
record says processing; those are always kept. Job records are the retention purge's
(privacy/retention.py): they go with their video, never before it.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

import events
from locking import holder_alive
from records import JobRecords, State

log = logging.getLogger(__name__)


@dataclass
class CleanupReport:
    temp_paths: list[str] = field(default_factory=list)
    kept_live: list[str] = field(default_factory=list)


def cleanup(
    conn: Redis,
    temp_dir: Path,
    *,
    temp_max_age_hours: float,
    jobs_max_age_hours: float,  # no longer used: records follow the retention period (RETENTION_DAYS)
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

    # Job records are not removed here: a record lives exactly as long as its video and order data,
    # and privacy.retention deletes them together when the retention period ends.
    counts = {'temp_paths': len(report.temp_paths), 'kept_live': len(report.kept_live)}
    log.info(events.CLEANUP_DONE, extra={'dry_run': dry_run, **counts})
    return report
