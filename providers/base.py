"""The three kinds of provider and what they hand back.

Each kind has one method to implement; `close()` and the context-manager protocol come
free. Implementations live one vendor per module and raise only `providers.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar


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

    def check_reachable(self) -> str | None:
        """A cheap call that proves the provider answers (for `health_check.py --deep`).

        Returns None when reachable, else what is wrong. Local providers are always reachable.
        """
        return None


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
