"""The fixed vocabulary of log events. Every log record's message is one of these.

Records carry `video_id`, `stage`, `provider` and `strategy` in `extra` where they apply,
so a log pipeline can follow one video from intake to storage.
"""

from __future__ import annotations

WORKER_STARTING = 'worker.starting'
WORKER_REFUSED = 'worker.refused'
ASSETS_VALID = 'assets.valid'
ASSETS_INVALID = 'assets.invalid'

ORDER_ENQUEUED = 'order.enqueued'
ORDER_DUPLICATE = 'order.duplicate'

JOB_STARTED = 'job.started'
JOB_COMPLETED = 'job.completed'
JOB_FAILED = 'job.failed'

STAGE_STARTED = 'stage.started'
STAGE_FINISHED = 'stage.finished'

PROVIDER_FAILED = 'provider.failed'
STRATEGY_SKIPPED = 'strategy.skipped'
STRATEGY_FAILED = 'strategy.failed'
STRATEGY_SUCCEEDED = 'strategy.succeeded'
