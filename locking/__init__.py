"""Locking: one worker at a time per video, across processes and machines."""

from locking.video_lock import LockBusy, VideoLock, force_release, holder_alive

__all__ = ['LockBusy', 'VideoLock', 'force_release', 'holder_alive']
