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
JOB_ALREADY_DONE = 'job.already_done'
JOB_RETRY_SCHEDULED = 'job.retry_scheduled'
JOB_FAILED = 'job.failed'
JOB_REQUEUED = 'job.requeued'
JOB_DEAD_LETTERED = 'job.dead_lettered'
JOB_ABANDONED = 'job.abandoned'
JOB_LEFT_TO_LOCK_HOLDER = 'job.left_to_lock_holder'
DLQ_RQ_STATE_INCONSISTENT = 'dlq.rq_state_inconsistent'

STAGE_STARTED = 'stage.started'
STAGE_FINISHED = 'stage.finished'
STAGE_RESUMED = 'stage.resumed'

PROVIDER_FAILED = 'provider.failed'
PROVIDER_SKIPPED = 'provider.skipped'
STRATEGY_SKIPPED = 'strategy.skipped'
STRATEGY_FAILED = 'strategy.failed'
STRATEGY_SUCCEEDED = 'strategy.succeeded'

PROVIDER_RETRYING = 'provider.retrying'
PROVIDER_JOB_SUBMITTED = 'provider.job_submitted'
PROVIDER_JOB_RESUMED = 'provider.job_resumed'
PROVIDER_JOB_COMPLETED = 'provider.job_completed'
PROVIDER_ALIGNMENT_DROPPED = 'provider.alignment_dropped'
PROVIDER_NONCOMMERCIAL_ENABLED = 'provider.noncommercial_enabled'
PROVIDER_NONCOMMERCIAL_REFUSED = 'provider.noncommercial_refused'
STORAGE_UPLOADED = 'storage.uploaded'
CACHE_CORRUPT = 'cache.corrupt'
LOCK_TAKEN_OVER = 'lock.taken_over'
LOCK_LOST = 'lock.lost'
LOCK_RENEW_FAILED = 'lock.renew_failed'
CLEANUP_DONE = 'cleanup.done'
COMPOSE_SINGLE_PASS_FALLBACK = 'compose.single_pass_fallback'
TEMPLATE_BUILDING = 'template.building'
TEMPLATE_READY = 'template.ready'
TEMPLATE_ENDING_NOT_KEPT = 'template.ending_not_kept'
TEMPLATE_QUICK_ENCODE_MISMATCH = 'template.quick_encode_mismatch'
WORKER_SHUTDOWN_TIMEOUT = 'worker.shutdown_timeout'

ORDER_MODERATED = 'order.moderated'
WEB_STARTED = 'web.started'
WEB_WORKER_RESTARTED = 'web.worker_restarted'
WEB_EMBEDDED_WORKER_STARTED = 'web.embedded_worker_started'
ADMIN_AUTH_FAILED = 'admin.auth_failed'
ADMIN_DLQ_RETRY = 'admin.dlq_retry'
METRICS_REDIS_UNAVAILABLE = 'metrics.redis_unavailable'
WEB_PORT_UNAVAILABLE = 'web.port_unavailable'
WEB_WORKER_FAILED = 'web.worker_failed'
HTTP_UNHANDLED_ERROR = 'http.unhandled_error'

# --- Operations (issue #15): alerts, the admin dashboard's actions ---
ALERT_FIRING = 'alert.firing'
ALERT_RESOLVED = 'alert.resolved'
ALERT_NOTIFY_FAILED = 'alert.notify_failed'
ALERT_EVALUATION_FAILED = 'alert.evaluation_failed'
ADMIN_ACTION = 'admin.action'
# --- Paid providers (issue #12) ---
# A job sent a paid request under a new idempotency key after an earlier one (a republished URL, a
# failed generation): a second charge for the same job, counted in extra['paid_submits'].
PROVIDER_PAID_CALL_REPEATED = 'provider.paid_call_repeated'
# --- Human review of messages (issue #10, review/) ---
ORDER_HELD_FOR_REVIEW = 'order.held_for_review'
REVIEW_APPROVED = 'review.approved'
REVIEW_REJECTED = 'review.rejected'
RENDER_REFUSED_IN_REVIEW = 'job.refused_in_review'
# Reliability (issue #11)
JOB_RECONCILED = 'job.reconciled'
ORDER_CANCELED = 'order.canceled'
RECONCILE_FAILED = 'reconcile.failed'
RECOVERY_FAILED = 'recovery.failed'
WORKER_REDIS_UNAVAILABLE = 'worker.redis_unavailable'
# Personalization (#14)
PREVIEW_MADE = 'preview.made'
PREVIEW_FAILED = 'preview.failed'
PREVIEW_RATE_LIMITED = 'preview.rate_limited'
EXTRAS_MADE = 'extras.made'
EXTRAS_FAILED = 'extras.failed'
EXTRAS_POSTER_NOT_KEPT = 'extras.poster_not_kept'
# Warm start and endings prepared ahead of need (issue 16)
WORKER_WARMING = 'worker.warming'
# The running-orders directory can't be written: this order's tools run at the horse's own priority.
WORKER_ARRIVAL_ORDER_UNAVAILABLE = 'worker.arrival_order_unavailable'
WORKER_WARM = 'worker.warm'
WORKER_WARM_START_FAILED = 'worker.warm_start_failed'
WORKER_ENDINGS_READY_AT_START = 'worker.endings_ready_at_start'
TEMPLATE_ENDING_INTERRUPTED = 'template.ending_interrupted'
TEMPLATE_ENDINGS_READY = 'template.endings_ready'
TEMPLATE_ENDINGS_FAILED = 'template.endings_failed'
# The parent's journey (delivery/, privacy/)
MAIL_SENT = 'mail.sent'
MAIL_WRITTEN_TO_OUTBOX = 'mail.written_to_outbox'
MAIL_DUPLICATE_SKIPPED = 'mail.duplicate_skipped'
MAIL_RETRYING = 'mail.retrying'
MAIL_FAILED_PERMANENTLY = 'mail.failed_permanently'
WEBHOOK_DELIVERED = 'webhook.delivered'
WEBHOOK_RETRYING = 'webhook.retrying'
WEBHOOK_GAVE_UP = 'webhook.gave_up'
VIDEO_FORGOTTEN = 'video.forgotten'
RETENTION_PURGE_DONE = 'retention.purge_done'
