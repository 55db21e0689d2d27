"""The three kinds of provider and what they hand back.

Each kind has one method to implement; `close()` and the context-manager protocol come
free. Implementations live one vendor per module and raise only `providers.errors`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from providers.errors import ProviderError, ProviderMisconfigured


@dataclass(frozen=True)
class CharacterTiming:
    character: str
    start: float
    end: float


@dataclass(frozen=True)
class Speech:
    """Papá Noel's spoken script as an audio file."""

    path: Path
    duration: float
    provider: str
    alignment: tuple[CharacterTiming, ...] = ()


@dataclass(frozen=True)
class Reachability:
    """What `health_check.py --deep` reports for one provider."""

    ok: bool
    detail: str
    latency_ms: float
    misconfigured: bool = False


class Provider:
    #: Short, stable name used in logs, metrics and job records.
    name: ClassVar[str] = 'provider'

    def __enter__(self) -> Provider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release connections; the default holds none."""

    def check_reachable(self) -> str:
        """A cheap call that proves the provider answers *and accepts our credentials*.

        Returns what was proven (e.g. `GET /v3/users/me: 200`); raises a provider error when it
        fails (`ProviderMisconfigured` for a bad URL, scheme, certificate or key). There is no
        default: each provider says how it is checked, so nothing is reported "reachable"
        without a call.
        """
        raise NotImplementedError(f'{type(self).__name__} must implement check_reachable')

    def reachability(self) -> Reachability:
        """`check_reachable`, timed, as a report line."""
        started = time.perf_counter()
        try:
            detail = self.check_reachable()
        except ProviderMisconfigured as exc:
            return Reachability(False, f'misconfigured: {exc.message}', _ms(started), misconfigured=True)
        except ProviderError as exc:
            return Reachability(False, exc.message, _ms(started))
        except NotImplementedError as exc:
            return Reachability(False, f'no health call: {exc}', _ms(started))
        return Reachability(True, detail, _ms(started))


class TTSProvider(Provider):
    def cache_identity(self) -> dict[str, Any]:
        """Everything besides the text that changes the audio: voice, model, settings."""
        return {'provider': self.name}

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        """Speak `text` in Papá Noel's voice into a file under `workdir`."""
        raise NotImplementedError("The 'synthesize' method must be implemented.")


class LipSyncProvider(Provider):
    def sync(self, video: Path, speech: Speech, workdir: Path) -> Path:
        """Return a clip of `video` whose lips follow `speech`, saved under `workdir`."""
        raise NotImplementedError("The 'sync' method must be implemented.")


class TalkingVideoProvider(Provider):
    def generate(self, speech: Speech, script: str, language: str, workdir: Path) -> Path:
        """Return a clip of Papá Noel saying `speech`, saved under `workdir`."""
        raise NotImplementedError("The 'generate' method must be implemented.")


@dataclass(frozen=True)
class ProviderSet:
    """The configured providers of each kind, in the order the chain tries them."""

    tts: tuple[TTSProvider, ...] = ()
    lipsync: tuple[LipSyncProvider, ...] = ()
    video: tuple[TalkingVideoProvider, ...] = ()

    def close(self) -> None:
        for provider in (*self.tts, *self.lipsync, *self.video):
            provider.close()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
