"""Wav2Lip, self-hosted behind the Cog HTTP contract (providers/cog.py, docs/self-hosted-lipsync.md).

Wav2Lip's weights were trained on LRS2 and are licensed for research and non-commercial use
only; its authors point commercial users to sync.so. The registry builds this provider only
when WAV2LIP_ALLOW_NONCOMMERCIAL=true, and it says so in the log every time it is built.
"""

from __future__ import annotations

import logging

import events
from providers.cog import DEFAULT_TIMEOUTS, CogLipSync
from providers.http import HttpTimeouts
from storage.base import Storage

log = logging.getLogger(__name__)

# Log events (the vocabulary of events.py).
LICENCE = 'Wav2Lip weights are licensed for research/non-commercial use only'


class Wav2LipLipSync(CogLipSync):
    name = 'wav2lip'

    def __init__(
        self,
        url: str,
        storage: Storage,
        *,
        timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
        deadline: float = 900.0,
    ) -> None:
        super().__init__(url, storage, timeouts=timeouts, deadline=deadline)
        # Whoever runs this must see, at start, that it is not for a commercial service.
        log.warning(events.PROVIDER_NONCOMMERCIAL_ENABLED, extra={'provider': self.name, 'licence': LICENCE})
