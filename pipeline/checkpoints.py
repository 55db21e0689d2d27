"""Stage checkpoints: a retried or recovered job resumes after its last finished stage.

Kept in Redis beside the job record (`papanoel:video:<id>:checkpoints`). Files they name
live in the job's working directory, which survives a failed attempt on the same machine;
on another machine a missing file simply means the stage runs again (speech then usually
comes from the shared audio cache instead of the provider).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from redis import Redis

from chain.strategies import SantaSegment
from providers.base import CharacterTiming, Speech
from records import checkpoints_key
from utils.probe import MediaError, probe


class Checkpoints:
    def __init__(self, conn: Redis, video_id: str) -> None:
        self.conn = conn
        self.key = checkpoints_key(video_id)

    def finished(self) -> list[str]:
        return sorted(k.decode() if isinstance(k, bytes) else k for k in self.conn.hkeys(self.key))

    def save_speech(self, speech: Speech) -> None:
        self.conn.hset(self.key, 'speech', json.dumps(_speech_dict(speech)))

    def speech(self) -> Speech | None:
        data = self._load('speech')
        return _speech(data) if data and _usable(Path(data['path'])) else None

    def save_segment(self, strategy: str, segment: SantaSegment) -> None:
        data = {'strategy': strategy, 'video': str(segment.video), 'loop_video': segment.loop_video,
                'providers': segment.providers, 'speech': _speech_dict(segment.speech)}  # fmt: skip
        self.conn.hset(self.key, 'segment', json.dumps(data))

    def segment(self) -> tuple[str, SantaSegment] | None:
        data = self._load('segment')
        if not data or not _usable(Path(data['video'])) or not _usable(Path(data['speech']['path'])):
            return None
        segment = SantaSegment(Path(data['video']), _speech(data['speech']), data['loop_video'], data['providers'])
        return data['strategy'], segment

    def _load(self, field: str) -> Any:
        raw = self.conn.hget(self.key, field)
        return json.loads(raw) if raw else None


def _speech_dict(speech: Speech) -> dict[str, Any]:
    data = asdict(speech)
    data['path'] = str(speech.path)
    return data


def _speech(data: dict[str, Any]) -> Speech:
    alignment = tuple(CharacterTiming(**t) for t in data.get('alignment', ()))
    return Speech(path=Path(data['path']), duration=data['duration'], provider=data['provider'], alignment=alignment)


def _usable(path: Path) -> bool:
    try:
        return probe(path).duration > 0
    except MediaError:
        return False
