"""Benchmark: what a work horse pays per job besides TTS and composition, before and after warm start.

    .venv/bin/python bench/overhead.py [--repeat 10]

On 1080x1920 placeholders in a temporary directory. "fresh horse" is what a forked horse paid
when its parent had computed nothing (the per-process caches empty): probing the three
assets, hashing them for the template key, `ffmpeg -version`, probing the speech. "inherited"
is what it pays now that the parent does it once at warm start. CPU = this process and its
children (ffprobe, ffmpeg).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compose import RenderSpec, load_assets, templates
from compose import assets as asset_module
from compose.parts import Deadline
from compose.placeholders import render_placeholders
from providers.espeak_tts import EspeakTTS
from utils.probe import probe, wav_duration


def cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(name: str, fn: Callable[[], object], repeat: int) -> None:
    c0, t0 = cpu(), time.monotonic()
    for _ in range(repeat):
        fn()
    wall, spent = (time.monotonic() - t0) / repeat, (cpu() - c0) / repeat
    print(f'{name:<58} {wall * 1000:8.1f} ms wall {spent * 1000:8.1f} ms CPU')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='bench-overhead-') as tmp:
        work = Path(tmp)
        assets_dir = work / 'assets'
        render_placeholders(assets_dir)
        spec = RenderSpec()
        assets = load_assets(assets_dir, decode=False)

        def fresh_key() -> None:
            templates._hash_file.cache_clear()
            templates._ffmpeg_version.clear()
            templates.template_key(assets, spec, Deadline.after(30))

        speech = EspeakTTS().synthesize('Hola Sofía, Papá Noel te saluda desde el Polo Norte.', 'es', work)
        print('per job:')
        measure('assets probed (3 ffprobes), fresh horse', lambda: load_assets(assets_dir, decode=False), args.repeat)
        asset_module.load_assets_cached(assets_dir)
        measure('assets probed, inherited', lambda: asset_module.load_assets_cached(assets_dir), args.repeat * 10)
        measure('template key (3 hashes + ffmpeg -version), fresh horse', fresh_key, args.repeat)
        measure('template key, inherited', lambda: templates.template_key(assets, spec, Deadline.after(30)),
                args.repeat * 10)  # fmt: skip
        measure('speech length: ffprobe', lambda: probe(speech.path), args.repeat)
        measure('speech length: WAV header', lambda: wav_duration(speech.path), args.repeat * 10)
    return 0


if __name__ == '__main__':
    sys.exit(main())
