"""The footage every video is built from, validated before a worker takes any job."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import papa_noel_config as persona
from utils.probe import MediaError, MediaInfo, probe
from utils.proc import CommandError, run

MIN_DURATION_SECONDS = 1.0
MAX_DURATION_SECONDS = 120.0
MIN_SIDE_PIXELS = 64
MAX_SIDE_PIXELS = 4096
DECODE_TIMEOUT_SECONDS = 120
#: Under the template cache directory: one empty file per asset content (SHA-256) that decoded cleanly,
#: and beside it `<sha256>.mono` saying whether that bed's channels carry one sound ('yes'/'no').
DECODED_ASSETS = 'decoded-assets'


class AssetError(Exception):
    """An asset is missing or unusable. The message names the file and what is wrong."""


@dataclass(frozen=True)
class AssetSet:
    intro: MediaInfo
    santa_base: MediaInfo
    outro: MediaInfo
    #: The intro's and the outro's sound are the same in every channel (or have one, or none),
    #: as found by a full decode: with a mono speech, the soundtrack is encoded mono (compose.render).
    mono_beds: bool = False


def asset_paths(assets_dir: Path) -> dict[str, Path]:
    return {role.role: assets_dir / role.file_name for role in persona.ASSET_ROLES}


def load_assets(
    assets_dir: Path, *, decode: bool = True, verified_dir: Path | None = None, read_channels: bool = True
) -> AssetSet:
    """Probe (and by default fully decode) each asset; raise AssetError naming every bad file.

    A full decode is what finds a file corrupt mid-stream (its header probes fine). It is
    done once per content: a clean decode is remembered by the file's SHA-256, in this
    process and, given `verified_dir`, on disk for every process (health checks, workers,
    their work horses); a changed file has a new hash and is decoded again.
    """
    problems: list[str] = []
    infos: dict[str, MediaInfo] = {}
    for role in persona.ASSET_ROLES:
        path = assets_dir / role.file_name
        try:
            infos[role.role] = _check(role, path, decode, verified_dir)
        except AssetError as exc:
            problems.append(str(exc))
    if problems:
        raise AssetError('\n'.join(problems))
    # The beds' channels matter to a render only: a health check leaves them unread (mono_beds False).
    mono = decode and read_channels and all(_sounds_mono(infos[role], verified_dir) for role in ('intro', 'outro'))
    return AssetSet(**infos, mono_beds=mono)


def _check(role: persona.AssetRole, path: Path, decode: bool, verified_dir: Path | None) -> MediaInfo:
    where = f'{role.role} asset {path}'
    if not path.is_file():
        raise AssetError(f'{where}: file not found (expected: {role.description})')
    try:
        info = probe(path)
    except MediaError as exc:
        raise AssetError(f'{where}: {exc}') from None
    if not info.has_video:
        raise AssetError(f'{where}: has no video stream')
    if not MIN_DURATION_SECONDS <= info.duration <= MAX_DURATION_SECONDS:
        raise AssetError(
            f'{where}: duration {info.duration:.2f} s is outside {MIN_DURATION_SECONDS:g}-{MAX_DURATION_SECONDS:g} s'
        )
    for side in (info.width or 0, info.height or 0):
        if not MIN_SIDE_PIXELS <= side <= MAX_SIDE_PIXELS:
            raise AssetError(
                f'{where}: size {info.width}x{info.height} is outside {MIN_SIDE_PIXELS}-{MAX_SIDE_PIXELS} px'
            )
    if decode:
        digest = content_hash(path)
        if not _decoded_before(digest, verified_dir):
            try:
                run(['ffmpeg', '-v', 'error', '-xerror', '-i', str(path), '-f', 'null', '-'],
                    timeout=DECODE_TIMEOUT_SECONDS)  # fmt: skip
            except CommandError as exc:
                raise AssetError(f'{where}: does not decode cleanly ({exc})') from None
            _remember_decoded(digest, verified_dir)
    return info


# --- whether a bed's channels all carry the same sound, remembered by content ---

#: Largest difference between two channels, in full scale, still taken as the same sound:
#: about -72 dBFS, under what the AAC encode itself changes.
SAME_CHANNELS_TOLERANCE = 2**-12
_MONO_SUFFIX = '.mono'
_mono: dict[str, bool] = {}


def _sounds_mono(info: MediaInfo, verified_dir: Path | None) -> bool:
    if not info.has_audio or info.audio_channels == 1:
        return True
    digest = content_hash(info.path)
    if digest in _mono:
        return _mono[digest]
    marker = verified_dir / (digest + _MONO_SUFFIX) if verified_dir is not None else None
    if marker is not None and marker.is_file():
        _mono[digest] = marker.read_text() == 'yes'
        return _mono[digest]
    same = _same_channels(info)
    # Stereo, as always, when the read failed (a timeout on a loaded machine, say); only this
    # process remembers that, so the next one reads the bed again.
    _mono[digest] = bool(same)
    if marker is not None and same is not None:
        with contextlib.suppress(OSError):  # unwritable: the next process decodes it again
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text('yes' if same else 'no')
    return _mono[digest]


def _same_channels(info: MediaInfo) -> bool | None:
    """Whether the bed's channels never differ audibly; None when it could not be read (the full
    decode names what is wrong with the file)."""
    import numpy as np  # on first use: the web app and the CLI never need it

    try:
        raw = run(['ffmpeg', '-v', 'error', '-i', str(info.path), '-map', '0:a:0', '-f', 's16le', '-c:a', 'pcm_s16le',
                   '-'], timeout=DECODE_TIMEOUT_SECONDS)  # fmt: skip
    except CommandError:
        return None
    channels = info.audio_channels or 2
    samples = np.frombuffer(raw[: len(raw) - len(raw) % (2 * channels)], dtype='<i2').reshape(-1, channels)
    spread = np.abs(samples.astype(np.int32) - samples[:, :1]).max(initial=0)
    return bool(spread <= SAME_CHANNELS_TOLERANCE * 32768)


# --- full decodes, remembered by content ---

_hashes: dict[tuple[str, int, int, int], str] = {}
_decoded: set[str] = set()


def content_hash(path: Path) -> str:
    """SHA-256 of the file, computed once per (path, size, mtime, inode) in this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _hashes:
        digest = hashlib.sha256()
        with path.open('rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def _decoded_before(digest: str, verified_dir: Path | None) -> bool:
    if digest in _decoded:
        return True
    if verified_dir is not None and (verified_dir / digest).is_file():
        _decoded.add(digest)
        return True
    return False


def _remember_decoded(digest: str, verified_dir: Path | None) -> None:
    _decoded.add(digest)
    if verified_dir is not None:
        with contextlib.suppress(OSError):  # an unwritable cache only costs another decode later
            verified_dir.mkdir(parents=True, exist_ok=True)
            (verified_dir / digest).touch()


def load_assets_cached(assets_dir: Path, *, verified_dir: Path | None = None) -> AssetSet:
    """`load_assets` (full decode, remembered by content under `verified_dir`), done once per version
    (size, mtime, inode) of the files in this process: a worker's parent fills it at warm start and
    every forked work horse inherits it, instead of starting three ffprobes per job. A changed file
    is a new version: probed and decoded again."""
    versions = []
    for role in persona.ASSET_ROLES:
        path = assets_dir / role.file_name
        try:
            stat = path.stat()
        except OSError:
            return load_assets(assets_dir, verified_dir=verified_dir)  # names the missing file
        versions.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return _probed(assets_dir, tuple(versions), verified_dir)


@functools.lru_cache(maxsize=8)
def _probed(assets_dir: Path, versions: tuple[tuple[str, int, int, int], ...], verified_dir: Path | None) -> AssetSet:
    return load_assets(assets_dir, verified_dir=verified_dir)
