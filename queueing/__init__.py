"""Queueing: orders become RQ jobs on Redis, each with a job record that reports progress."""
