"""Maintenance: removing old temp files and finished job records without touching live work."""

from maintenance.cleanup import CleanupReport, cleanup

__all__ = ['CleanupReport', 'cleanup']
