"""Posters shared by strategy-3 orders (compose.posters, pipeline.extras.make_poster), with real FFmpeg at 180x320."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from chain import SantaSegment
from compose import RenderSpec, compose_video, load_assets
from compose.posters import kept_poster
from pipeline.extras import make_poster
from providers.fake import FakeTalkingVideo, FakeTTS


def ssim(a: Path, b: Path) -> float:
    proc = subprocess.run(['ffmpeg', '-hide_banner', '-i', str(a), '-i', str(b), '-lavfi', 'ssim', '-f', 'null', '-'],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return float(re.findall(r'All:([0-9.]+)', proc.stderr)[-1])


SPEC = RenderSpec(width=180, height=320, preset='veryfast')
WIDTH = 180


def test_a_strategy_3_order_copies_the_poster_an_earlier_order_made_of_the_same_frame(
    tmp_path: Path, small_assets: Path, template_cache: Path
) -> None:
    assets = load_assets(small_assets)
    at = assets.intro.duration - SPEC.intro_overlap + 1.0  # a second into Papá Noel
    videos, kept_paths = [], []
    for i, seconds in enumerate((3.0, 5.0)):
        speech = FakeTTS(seconds=seconds).synthesize('x', 'es', tmp_path)
        segment = SantaSegment(assets.santa_base.path, speech, loop_video=True, providers={})
        videos.append(compose_video(assets, segment, tmp_path / f'v{i}.mp4', SPEC, timeout=300,
                                    template_cache_dir=template_cache))  # fmt: skip
        kept_paths.append(kept_poster(assets, segment, SPEC, template_cache, at, width=WIDTH, timeout=300))
    kept = kept_paths[0]
    assert kept is not None and kept_paths[1] == kept  # the same point of the loop: one poster
    kept.unlink(missing_ok=True)  # (another test of this session may have made it)

    first = make_poster(videos[0], at, tmp_path / 'p0.jpg', kept=kept)
    assert kept.read_bytes() == first.read_bytes()
    # The second order's own video is never read: its poster is the kept one...
    second = make_poster(tmp_path / 'no-such-video.mp4', at, tmp_path / 'p1.jpg', kept=kept)
    assert second.read_bytes() == first.read_bytes()
    # ...which is the frame its video shows there (the same frame, encoded by another part).
    own = make_poster(videos[1], at, tmp_path / 'p1-own.jpg')
    assert ssim(own, second) >= 0.99


def test_a_poster_of_a_provider_clip_or_of_a_crossfade_is_the_orders_own(
    tmp_path: Path, small_assets: Path, template_cache: Path
) -> None:
    assets = load_assets(small_assets)
    speech = FakeTTS(seconds=3.0).synthesize('x', 'es', tmp_path)
    santa_start = assets.intro.duration - SPEC.intro_overlap
    looped = SantaSegment(assets.santa_base.path, speech, loop_video=True, providers={})
    clip = FakeTalkingVideo(small_assets / 'frame3_santa_base.mp4').generate(speech, '', 'es', tmp_path)
    provider = SantaSegment(clip, speech, loop_video=False, providers={})

    def kept(segment: SantaSegment, at: float) -> Path | None:
        return kept_poster(assets, segment, SPEC, template_cache, at, width=WIDTH, timeout=300)

    assert kept(looped, santa_start + 1.0) is not None
    assert kept(provider, santa_start + 1.0) is None
    assert kept(looped, santa_start + 0.2) is None  # inside the intro→Santa crossfade: the intro shows through
    assert kept(looped, santa_start + 2.8) is None  # inside the Santa→outro crossfade
    # Another point of the loop is another poster.
    assert kept(looped, santa_start + 1.0) != kept(looped, santa_start + 1.5)
