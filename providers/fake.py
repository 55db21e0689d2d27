"""Fake providers that make real media locally: for tests, benchmarks and offline development.

Each fake raises the queued errors first, one per call, then succeeds by producing a real
file with FFmpeg, so everything downstream (probing, composition) runs for real.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path

from providers.base import LipSyncProvider, Speech, TalkingVideoProvider, TTSProvider
from providers.errors import ProviderError
from utils.probe import probe
from utils.proc import run

TIMEOUT_SECONDS = 120


class _Scripted:
    name = 'fake'

    def __init__(self, name: str = 'fake', failures: Iterable[ProviderError] = ()) -> None:
        self.name = name
        self.failures = list(failures)
        self.calls = 0

    def check_reachable(self) -> str:
        return 'local fake: nothing to call'

    def _next_call(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


class FakeTTS(_Scripted, TTSProvider):
    """Speech as a tone of `seconds`, wobbling like a voice so loudness normalization has work to do."""

    def __init__(self, name: str = 'fake-tts', failures: Iterable[ProviderError] = (), seconds: float = 3.0) -> None:
        super().__init__(name, failures)
        self.seconds = seconds

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        self._next_call()
        out = workdir / f'speech-{self.name}-{uuid.uuid4().hex[:8]}.wav'
        tone = f'sine=f=220:r=22050:d={self.seconds},volume=0.5*(1+sin(2*PI*3*t)):eval=frame'
        run(['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', tone, str(out)], timeout=TIMEOUT_SECONDS)
        return Speech(path=out, duration=probe(out).duration, provider=self.name)


def _clip(source: Path, seconds: float, out: Path, *, hue: int) -> Path:
    """A provider-like clip: `source` re-encoded at another size and tint, `seconds` long."""
    run(
        ['ffmpeg', '-v', 'error', '-y', '-stream_loop', '-1', '-i', str(source), '-t', f'{seconds:.3f}',
         '-vf', f'scale=240:426,hue=h={hue}', '-an', '-c:v', 'libx264', '-preset', 'ultrafast', str(out)],
        timeout=TIMEOUT_SECONDS,
    )  # fmt: skip
    return out


class FakeLipSync(_Scripted, LipSyncProvider):
    def __init__(self, name: str = 'fake-lipsync', failures: Iterable[ProviderError] = ()) -> None:
        super().__init__(name, failures)

    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        self._next_call()
        return _clip(video, speech.duration, workdir / f'lipsync-{uuid.uuid4().hex[:8]}.mp4', hue=40)


class FakeTalkingVideo(_Scripted, TalkingVideoProvider):
    def __init__(self, source: Path, name: str = 'fake-video', failures: Iterable[ProviderError] = ()) -> None:
        super().__init__(name, failures)
        self.source = source

    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        self._next_call()
        return _clip(self.source, speech.duration, workdir / f'talking-{uuid.uuid4().hex[:8]}.mp4', hue=200)
