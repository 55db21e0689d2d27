"""One order end to end, as `make demo` runs it: enqueue, work, wait, report."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from orders.model import Order
from queueing.connection import connect, is_embedded
from queueing.enqueue import enqueue_order
from records import JobRecord, JobRecords, State
from settings import Settings
from workers.worker import drain_in_process

WORKER_SCRIPT = Path(__file__).resolve().parent.parent / 'worker.py'


def run_demo(settings: Settings, order: Order, *, timeout: float = 900) -> JobRecord:
    """Enqueue `order` and have it produced: in this process on the embedded Redis, else by `python worker.py`."""
    conn = connect(settings.redis_url)
    enqueue_order(conn, order, queue_name=settings.queue_name, job_timeout=settings.job_timeout_seconds)
    if is_embedded(conn):
        drain_in_process(conn, settings)
    else:
        subprocess.run([sys.executable, str(WORKER_SCRIPT), '--burst'], check=False, timeout=timeout)
    records = JobRecords(conn)
    deadline = time.monotonic() + timeout
    while True:
        record = records.get(order.video_id)
        if record is None:
            raise LookupError(f'job record for {order.video_id} disappeared')
        if record.state in (State.COMPLETED, State.FAILED) or time.monotonic() > deadline:
            return record
        time.sleep(0.5)
