"""The footage every video is built from, validated before a worker takes any job."""

from __future__ import annotations

import functools
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


class AssetError(Exception):
    """An asset is missing or unusable. The message names the file and what is wrong."""


@dataclass(frozen=True)
class AssetSet:
    intro: MediaInfo
    santa_base: MediaInfo
    outro: MediaInfo


def asset_paths(assets_dir: Path) -> dict[str, Path]:
    return {role.role: assets_dir / role.file_name for role in persona.ASSET_ROLES}


def load_assets(assets_dir: Path, *, decode: bool = True) -> AssetSet:
    """Probe (and by default fully decode) each asset; raise AssetError naming every bad file."""
    problems: list[str] = []
    infos: dict[str, MediaInfo] = {}
    for role in persona.ASSET_ROLES:
        path = assets_dir / role.file_name
        try:
            infos[role.role] = _check(role, path, decode)
        except AssetError as exc:
            problems.append(str(exc))
    if problems:
        raise AssetError('\n'.join(problems))
    return AssetSet(**infos)


def _check(role: persona.AssetRole, path: Path, decode: bool) -> MediaInfo:
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
        try:
            run(
                ['ffmpeg', '-v', 'error', '-xerror', '-i', str(path), '-f', 'null', '-'], timeout=DECODE_TIMEOUT_SECONDS
            )
        except CommandError as exc:
            raise AssetError(f'{where}: does not decode cleanly ({exc})') from None
    return info


def load_assets_cached(assets_dir: Path) -> AssetSet:
    """`load_assets(decode=False)`, probed once per version (size, mtime, inode) of the files in this
    process: a worker's parent fills it at warm start and every forked work horse inherits it,
    instead of starting three ffprobes per job."""
    versions = []
    for role in persona.ASSET_ROLES:
        path = assets_dir / role.file_name
        try:
            stat = path.stat()
        except OSError:
            return load_assets(assets_dir, decode=False)  # names the missing file
        versions.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return _probed(assets_dir, tuple(versions))


@functools.lru_cache(maxsize=8)
def _probed(assets_dir: Path, versions: tuple[tuple[str, int, int, int], ...]) -> AssetSet:
    return load_assets(assets_dir, decode=False)
