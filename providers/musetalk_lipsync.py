"""MuseTalk 1.5, self-hosted behind the Cog HTTP contract (providers/cog.py, docs/self-hosted-lipsync.md).

MuseTalk's code is MIT and its weights may be used commercially (third-party parts such as
whisper, sd-vae, dwpose and S3FD carry their own licences), so it needs no opt-in.
"""

from __future__ import annotations

from providers.cog import DEFAULT_TIMEOUTS, CogLipSync
from providers.http import HttpTimeouts
from storage.base import Storage


class MuseTalkLipSync(CogLipSync):
    name = 'musetalk'

    def __init__(
        self,
        url: str,
        storage: Storage,
        *,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        deadline: float = 900.0,
    ) -> None:
        # No bbox_shift: MuseTalk v15 forces it to 0 (scripts/inference.py), so sending it changed nothing.
        super().__init__(url, storage, timeouts=timeouts, deadline=deadline)
