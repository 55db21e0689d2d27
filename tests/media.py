"""Checks a finished video must pass, as a user's player and our spec see it."""

from __future__ import annotations

import struct
from pathlib import Path

from orders import Order, render_script
from papa_noel_config import INTRO_OVERLAP_SECONDS, OUTRO_OVERLAP_SECONDS
from providers.espeak_tts import EspeakTTS
from utils.probe import MediaInfo, probe


def top_level_atoms(path: Path) -> list[str]:
    atoms = []
    with path.open('rb') as f:
        while header := f.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack('>I4s', header)
            if size == 1:
                size = struct.unpack('>Q', f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                atoms.append(kind.decode('latin-1'))
                break
            else:
                f.seek(size - 8, 1)
            atoms.append(kind.decode('latin-1'))
    return atoms


def assert_output_spec(path: Path, *, width: int, height: int, duration: float, tolerance: float = 0.2) -> MediaInfo:
    info = probe(path)
    assert info.video_codec == 'h264'
    assert info.video_profile == 'High'
    assert info.video_level == 40
    assert (info.width, info.height) == (width, height)
    assert info.pixel_format == 'yuv420p'
    assert info.audio_codec == 'aac'
    assert abs(info.duration - duration) <= tolerance, f'{info.duration:.3f} s, expected {duration:.3f} s'
    atoms = top_level_atoms(path)
    assert atoms.index('moov') < atoms.index('mdat'), f'moov after mdat: {atoms}'
    return info


def expected_duration(order: Order, assets: Path, workdir: Path) -> float:
    """intro + speech + outro - overlaps; espeak-ng is deterministic, so the speech can be made again here."""
    speech = EspeakTTS().synthesize(render_script(order), order.language, workdir)
    intro = probe(assets / 'Frames_1_2_to_3.mov').duration
    outro = probe(assets / 'Frame_4_NocheMagica.mov').duration
    return intro + speech.duration + outro - INTRO_OVERLAP_SECONDS - OUTRO_OVERLAP_SECONDS
