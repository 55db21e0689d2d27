"""What every remote lip-sync provider is sent: the base footage fitted to the speech, published by URL.

The base Santa footage is usually shorter than the speech. Sync Labs is asked to `cut_off` at the
shorter input, and the self-hosted models follow the audio, so the footage is looped to the speech
length here first; otherwise Santa would stop moving (or stop talking) before the message ends.
It is also made constant 25 fps, the rate MuseTalk and Wav2Lip were trained at and one Sync Labs
recommends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from providers.base import Speech
from providers.errors import PermanentProviderError
from providers.job_state import JobState
from storage.base import Storage, StorageError
from utils.probe import MediaError, probe
from utils.proc import CommandError, run

PREPARE_TIMEOUT_SECONDS = 300
LIPSYNC_FPS = 25
# Bump when `fit_video` changes, so idempotency keys and published names change with it.
PREPARATION_VERSION = '1'


@dataclass(frozen=True)
class PublishedInputs:
    key: str  # sha256 hex of the inputs: stable across retries of the same job
    video_url: str
    audio_url: str


def inputs_digest(video: Path, speech: Speech, *parameters: str) -> str:
    """A hex digest of what the provider is asked to do: same footage, speech and parameters, same digest."""
    digest = hashlib.sha256(PREPARATION_VERSION.encode())
    for path in (video, speech.path):
        digest.update(_file_sha256(path).encode())
    for parameter in parameters:
        digest.update(b'\0' + parameter.encode())
    return digest.hexdigest()


def fit_video(provider: str, video: Path, seconds: float, out: Path) -> Path:
    """`video` looped or cut to `seconds`, silent, constant 25 fps H.264."""
    args = [
        'ffmpeg', '-v', 'error', '-y',
        '-stream_loop', '-1', '-i', str(video),
        '-t', f'{seconds:.3f}', '-an',
        '-vf', f'fps={LIPSYNC_FPS}', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '17', '-pix_fmt', 'yuv420p',
        '-movflags', '+faststart', str(out),
    ]  # fmt: skip
    try:
        run(args, timeout=PREPARE_TIMEOUT_SECONDS)
        info = probe(out)
    except (CommandError, MediaError) as exc:
        # Our own footage could not be prepared: no provider would do better with it.
        raise PermanentProviderError(provider, f'could not prepare the base footage: {exc}') from exc
    if not info.has_video:
        raise PermanentProviderError(provider, f'{video.name}: prepared footage has no video')
    return out


def publish_inputs(
    provider: str,
    storage: Storage,
    video: Path,
    speech: Speech,
    workdir: Path,
    *,
    key: str,
    expires_seconds: int,
    state: JobState | None = None,
) -> PublishedInputs:
    """Fit the footage to the speech and publish both; names derive from `key`, so a retry overwrites them.

    With the job's `state`, each input is published once per job: a retry gets the URLs of the
    first attempt back (while they stay valid), so the request body, and the vendor's
    idempotency key derived from it, stay the same.
    """
    stem = f'lipsync-{key[:32]}'
    video_name, audio_name = f'{stem}-video.mp4', f'{stem}-audio{speech.path.suffix}'
    if state is not None:
        video_url, audio_url = state.published(video_name, key), state.published(audio_name, key)
        if video_url and audio_url:
            return PublishedInputs(key=key, video_url=video_url, audio_url=audio_url)
    fitted = fit_video(provider, video, speech.duration, workdir / f'{provider}-input-{key[:16]}.mp4')
    try:
        video_url = storage.publish(fitted, name=video_name, expires_seconds=expires_seconds)
        audio_url = storage.publish(speech.path, name=audio_name, expires_seconds=expires_seconds)
    except StorageError as exc:
        # Without URLs no remote provider can run; retrying will not configure the storage.
        raise PermanentProviderError(provider, f'cannot publish media for the provider: {exc}') from exc
    if state is not None:
        state.remember_published(video_name, key, video_url, expires_seconds)
        state.remember_published(audio_name, key, audio_url, expires_seconds)
    return PublishedInputs(key=key, video_url=video_url, audio_url=audio_url)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open('rb') as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
