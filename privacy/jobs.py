"""The RQ job that repeats a deletion on a worker: the web side deletes storage and Redis at once,
but a worker's own disk (working directories, the audio cache, the outbox) may be another
machine's. Runs inside a worker, so it reads the settings."""

from __future__ import annotations

from rq import Queue, get_current_job

from privacy.forget import Forgetter
from settings import Settings
from storage import build_storage

JOB_FUNCTION = 'privacy.jobs.forget_on_worker'


def queue_forget(queue: Queue, video_id: str) -> None:
    queue.enqueue_call(JOB_FUNCTION, args=(video_id,), job_id=f'forget-{video_id}', result_ttl=0,
                       failure_ttl=3600, description='papa-noel forget')  # fmt: skip


def forget_on_worker(video_id: str) -> None:
    job = get_current_job()
    if job is None:
        raise RuntimeError('forget_on_worker must run inside an RQ worker')
    settings = Settings()
    Forgetter(job.connection, build_storage(settings), settings).forget(video_id, reason='parent')
