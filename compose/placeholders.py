"""Placeholder footage with the real assets' names and roles, rendered with FFmpeg.

The real footage is proprietary. These clips let the whole pipeline run on a fresh
clone; each one says on screen that it is a placeholder. Set ASSETS_DIR to real footage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import papa_noel_config as persona
from utils.proc import CommandFailed, run

log = logging.getLogger(__name__)

RENDER_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class PlaceholderClip:
    role: persona.AssetRole
    seconds: float
    background: str
    caption: str
    chime_hz: int | None  # None: no audio track, like a silent base footage


PLACEHOLDERS = (
    PlaceholderClip(persona.INTRO, 3.0, '0x0b1d3a', 'PLACEHOLDER  intro', 880),
    PlaceholderClip(persona.SANTA_BASE, 4.0, '0x9e1b1b', 'PLACEHOLDER  Papa Noel', None),
    PlaceholderClip(persona.OUTRO, 3.0, '0x114d2c', 'PLACEHOLDER  Noche Magica', 660),
)


def render_placeholders(
    assets_dir: Path, *, width: int = 1080, height: int = 1920, fps: int = 30, overwrite: bool = False
) -> list[Path]:
    """Render each missing placeholder into `assets_dir`; return the paths rendered."""
    assets_dir.mkdir(parents=True, exist_ok=True)
    rendered = []
    for clip in PLACEHOLDERS:
        target = assets_dir / clip.role.file_name
        if target.exists() and not overwrite:
            continue
        partial = target.with_name(f'.partial-{target.name}')
        try:
            _render(clip, partial, width, height, fps, caption=True)
        except CommandFailed:
            # No font or no drawtext in this FFmpeg build: still a valid, moving placeholder.
            _render(clip, partial, width, height, fps, caption=False)
        partial.replace(target)
        rendered.append(target)
    return rendered


def _render(clip: PlaceholderClip, out: Path, width: int, height: int, fps: int, *, caption: bool) -> None:
    size = f'{width}x{height}'
    # A bar sweeping across the frame makes loops and joins visible.
    video = (
        f'color=c={clip.background}:s={size}:r={fps}:d={clip.seconds},'
        f"drawbox=x='mod(t*{width}/2,{width})':y={height * 3 // 4}:w={max(width // 10, 2)}:h={height // 20}"
        ':color=white@0.8:t=fill'
    )
    if caption:
        font_size = max(height // 32, 8)
        video += (
            f":enable=1,drawtext=text='{clip.caption}':fontcolor=white:fontsize={font_size}"
            ':x=(w-text_w)/2:y=(h-text_h)/2:font=DejaVu Sans'
        )
    args = ['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', video]
    if clip.chime_hz:
        chime = (
            f'sine=f={clip.chime_hz}:r=48000:d={clip.seconds},volume=0.3,'
            f'afade=t=in:d=0.3,afade=t=out:st={clip.seconds - 0.6}:d=0.6,aformat=channel_layouts=stereo'
        )
        args += ['-f', 'lavfi', '-i', chime, '-c:a', 'aac', '-b:a', '128k']
    args += ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p']
    args += ['-metadata', f'title={clip.caption} (placeholder for {clip.role.file_name})']
    args += ['-t', str(clip.seconds), '-f', 'mov' if out.name.endswith('.mov') else 'mp4', str(out)]
    run(args, timeout=RENDER_TIMEOUT_SECONDS)
