"""The storage interface: save a finished video under its id, atomically."""

from __future__ import annotations

import re
from pathlib import Path

_VIDEO_ID = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
_EXTRA_NAME = re.compile(r'^[a-z0-9x_-]{1,32}\.(mp4|jpg|vtt)$')


class StorageError(Exception):
    pass


class Storage:
    #: Short name for logs and health checks.
    name = 'storage'

    def save(self, video_id: str, source: Path) -> str:
        """Store `source` as the video `video_id`; return its location. Never exposes a partial file."""
        raise NotImplementedError("The 'save' method must be implemented.")

    def exists(self, video_id: str) -> bool:
        raise NotImplementedError("The 'exists' method must be implemented.")

    def location(self, video_id: str) -> str:
        """Where `video_id` is (or will be) stored: a path or a URL."""
        raise NotImplementedError("The 'location' method must be implemented.")

    def check_writable(self, probe_name: str) -> None:
        """Write and remove a tiny object named `probe_name`; raise StorageError if that fails."""
        raise NotImplementedError("The 'check_writable' method must be implemented.")

    def publish(self, source: Path, *, name: str, expires_seconds: int = 3600) -> str:
        """Make `source` fetchable by a remote provider under `name`; return its URL (valid `expires_seconds`)."""
        raise StorageError(f'{self.name} storage cannot publish media by URL')

    # --- A video's extras (#14): its other formats, poster and subtitles, stored beside it ---

    def save_extra(self, video_id: str, name: str, source: Path) -> str:
        """Store `source` as the extra `name` (e.g. 'poster.jpg') of `video_id`; return its location."""
        raise StorageError(f'{self.name} storage cannot keep extras')

    @staticmethod
    def extra_object_name(video_id: str, name: str) -> str:
        if not _EXTRA_NAME.match(name):
            raise StorageError(f'invalid extra name {name!r}')
        return f'{Storage.object_name(video_id).removesuffix(".mp4")}.{name}'

    # Every file of a video is named `<video_id>.<suffix>` (the MP4, later formats, poster, subtitles):
    # a dot never appears in an id, so that prefix finds all of them and nothing of another video.
    def video_files(self, video_id: str) -> list[str]:
        """Where every stored file of `video_id` is (every format, poster, subtitles)."""
        raise NotImplementedError("The 'video_files' method must be implemented.")

    def delete_video(self, video_id: str) -> list[str]:
        """Delete every stored file of `video_id`; return what was deleted. Deleting nothing is fine."""
        raise NotImplementedError("The 'delete_video' method must be implemented.")

    def media_files(self, names: list[str]) -> list[str]:
        """Which of the media published under `names` still exist."""
        return []

    def delete_media(self, names: list[str]) -> list[str]:
        """Delete media published for providers under `names`; return what was deleted."""
        return []

    @staticmethod
    def object_name(video_id: str) -> str:
        if not _VIDEO_ID.match(video_id):
            raise StorageError(f'invalid video id {video_id!r}')
        return f'{video_id}.mp4'
