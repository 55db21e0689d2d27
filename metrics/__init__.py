"""Metrics shared by every worker through Redis: counters and per-stage duration histograms."""

from metrics.store import STAGE_BUCKETS, Metrics

__all__ = ['STAGE_BUCKETS', 'Metrics']
