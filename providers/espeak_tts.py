"""espeak-ng: the offline text-to-speech that always works when nothing remote does."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import papa_noel_config as persona
from providers.base import Speech, TTSProvider
from providers.errors import PermanentProviderError, ProviderTimeout
from providers.speakable import plain_words
from utils.probe import MediaError, probe
from utils.proc import CommandError, CommandTimeout, run


class EspeakTTS(TTSProvider):
    name = 'espeak'

    def __init__(self, voice: persona.EspeakVoice = persona.ESPEAK, timeout: float = 60) -> None:
        self.voice = voice
        self.timeout = timeout

    def cache_identity(self) -> dict[str, Any]:
        return {'provider': self.name, 'voice': dataclasses.asdict(self.voice)}

    def check_reachable(self) -> str:
        """Local: no key to prove; the health check's espeak-ng check runs the binary itself."""
        return 'local: no remote call'

    def synthesize(self, text: str, language: str, workdir: Path) -> Speech:
        text = plain_words(text)  # read as words only: no phonemes, tags or SSML (issue #10)
        if language not in self.voice.voices:
            raise PermanentProviderError(self.name, f'no voice for language {language!r}')
        out = workdir / f'speech-{self.name}-{uuid.uuid4().hex[:8]}.wav'
        args = [
            'espeak-ng',
            '-b', '1',  # the text is UTF-8
            '-v', self.voice.voices[language],
            '-s', str(self.voice.words_per_minute),
            '-p', str(self.voice.pitch),
            '-a', str(self.voice.amplitude),
            '-w', str(out),
            '--stdin',
        ]  # fmt: skip
        try:
            run(args, timeout=self.timeout, stdin=text.encode('utf-8'))
            info = probe(out)
        except CommandTimeout as exc:
            raise ProviderTimeout(self.name, str(exc)) from exc
        except (CommandError, MediaError) as exc:
            raise PermanentProviderError(self.name, str(exc)) from exc
        if not info.has_audio or info.duration <= 0:
            raise PermanentProviderError(self.name, f'{out.name}: produced no audio')
        return Speech(path=out, duration=info.duration, provider=self.name)
