"""The worker runtime: forking RQ workers (warm start, crash recovery, maintenance), the job
function each work horse runs, and the embedded demo. Above queueing, pipeline, deadletter and
maintenance, which it drives; nothing below imports it."""
