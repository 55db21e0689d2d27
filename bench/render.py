"""Benchmark: the template renderer against the single-pass renderer, at the full output spec.

    .venv/bin/python bench/render.py [--repeat N] [--footage camera|placeholder]

Renders the same orders both ways in one run (1080x1920, 30 fps, preset medium: the
RenderSpec defaults) with ~17 s of espeak-ng speech, for strategy 3 (base footage looped
under the speech) and strategies 1/2 (a provider-like clip). Template
preparation runs once, first, and is timed on its own line; per-order times exclude it.
Each render runs N times, the two renderers taking turns, and the fastest counts, so a busy
machine skews less; CPU seconds (all FFmpeg processes) are printed alongside. After the
template, every strategy-3 ending is prepared ahead of need, timed on its own line, as a
worker does while idle (compose.endings): then every strategy-3 order, the first one
included, copies its ending. With `--no-prepare-endings` the first template render encodes
the ending and keeps it and the later ones copy it; both figures are printed and the
speed-up is the later one's. The last
line reads `s3_speedup=X s1_speedup=Y ssim=Z` (Z: the lowest SSIM between the two renders).

The footage decides what a single-pass render costs. The real footage is proprietary; the
placeholders (flat colours, a caption, at the output size) cost FFmpeg almost nothing, far
less than filmed footage. So by default the bench films its own stand-in, `camera`: UHD
masters (2160x3840) of FFmpeg's moving test pattern, softened, with a light temporal grain,
under the real assets' names and lengths. See docs/rendering.md for what it costs against
what the issue measured on real footage. `--footage placeholder` uses the placeholders.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.strategies import SantaSegment
from compose import AssetSet, RenderSpec, compose_video, load_assets
from compose.endings import prepare_endings
from compose.parts import Deadline
from compose.placeholders import PLACEHOLDERS, render_placeholders
from compose.render import RenderMode
from compose.templates import prepare_template
from orders import build_script, parse_order
from pipeline.extras import burn_subtitles, format_spec, make_poster, video_name
from providers.espeak_tts import EspeakTTS
from subtitles.cues import subtitles_for
from utils.proc import run

SCRIPT = (
    'Ho, ho, ho! Hello, Lucia! Santa Claus here, from my workshop at the North Pole. '
    'I hear that this year, at seven years old, you have been very good. '
    'Keep being so kind. Merry Christmas, Lucia!'
)
TIMEOUT = 1800
# Every render draws the name card (NAME_CARD, on by default), as an order's does.
NAME_CARD = "Lucía D'Arcy"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=3, help='renders per order and renderer; the fastest counts')
    parser.add_argument('--footage', choices=('camera', 'placeholder'), default='camera', help='see the docstring')
    parser.add_argument('--size', default='', help='WxH instead of the full spec (e.g. 180x320: a quick check)')
    parser.add_argument('--preset', default='', help="x264 preset instead of the spec's (e.g. veryfast)")
    parser.add_argument('--no-prepare-endings', dest='prepare_endings', action='store_false',
                        help='strategy-3 endings left to orders (the first at a loop point encodes it)')  # fmt: skip
    args = parser.parse_args()
    spec = RenderSpec()
    if args.size:
        width, height = (int(side) for side in args.size.split('x'))
        spec = dataclasses.replace(spec, width=width, height=height)
    if args.preset:
        spec = dataclasses.replace(spec, preset=args.preset)
    with tempfile.TemporaryDirectory(prefix='bench-render-') as tmp:
        work = Path(tmp)
        if args.footage == 'camera':
            _film_camera_like(work / 'assets', spec)
        else:
            render_placeholders(work / 'assets', width=spec.width, height=spec.height, fps=spec.fps)
        assets = load_assets(work / 'assets', decode=False)
        speech = EspeakTTS().synthesize(SCRIPT, 'en', work)
        clip = _provider_clip(assets.santa_base.path, speech.duration, work / 'provider_clip.mp4')
        cache = work / 'templates'
        total = assets.intro.duration + speech.duration + assets.outro.duration
        total -= spec.intro_overlap + spec.outro_overlap
        print(f'spec {spec.width}x{spec.height} {spec.fps} fps preset={spec.preset} crf={spec.crf}; '
              f'{args.footage} footage; speech {speech.duration:.2f} s, video {total:.2f} s; '
              f'best of {args.repeat}; name card on')  # fmt: skip

        started = time.monotonic()
        template = prepare_template(assets, spec, cache, deadline=Deadline.after(TIMEOUT))
        print(f'template preparation (once per asset set): {time.monotonic() - started:.1f} s')
        if args.prepare_endings:
            # What a worker does while its queue is idle (compose.endings): afterwards every
            # strategy-3 order copies its ending, the first one at a loop point included.
            started, cpu = time.monotonic(), _children_cpu()
            made = prepare_endings(template, assets, spec, busy=lambda: False)
            print(f'endings prepared ahead of need (idle time, once per asset set): {made} in '
                  f'{time.monotonic() - started:.1f} s ({_children_cpu() - cpu:.1f} s CPU)')  # fmt: skip

        orders = {
            's3': SantaSegment(assets.santa_base.path, speech, loop_video=True, providers={}),
            's1': SantaSegment(clip, speech, loop_video=False, providers={}),
        }
        speedups: dict[str, float] = {}
        walls_s3_template = 0.0
        lowest_ssim = 1.0
        for name, segment in orders.items():
            walls: dict[RenderMode, list[float]] = {'single-pass': [], 'template': []}
            cpus: dict[RenderMode, list[float]] = {'single-pass': [], 'template': []}
            outputs: dict[RenderMode, Path] = {mode: work / f'{name}-{mode}.mp4' for mode in walls}
            # Alternating renderers: on a shared machine both see the same background load.
            for _ in range(args.repeat):
                for mode in walls:
                    started, cpu = time.monotonic(), _children_cpu()
                    compose_video(assets, segment, outputs[mode], spec, timeout=TIMEOUT, mode=mode,
                                  template_cache_dir=cache, name_card=NAME_CARD)  # fmt: skip
                    walls[mode].append(time.monotonic() - started)
                    cpus[mode].append(_children_cpu() - cpu)
            # Strategy 3 keeps each ending it encodes (compose.template_render): the first
            # template render of an order encodes it, later ones at the same loop point copy it.
            first_template = walls['template'][0]
            if name == 's3' and len(walls['template']) > 1 and not args.prepare_endings:
                walls['template'] = walls['template'][1:]
                cpus['template'] = cpus['template'][1:]
            best = {mode: min(times) for mode, times in walls.items()}
            if name == 's3':
                walls_s3_template = best['template']
            ssim, worst = _ssim(outputs['template'], outputs['single-pass'], work / f'{name}.ssim')
            speedups[name] = best['single-pass'] / best['template']
            lowest_ssim = min(lowest_ssim, ssim)
            label = 'strategy 3 (looped base)' if name == 's3' else 'strategies 1/2 (provider clip)'
            print(f'{label}: single-pass {best["single-pass"]:.2f} s (cpu {min(cpus["single-pass"]):.1f} s), '
                  f'template {best["template"]:.2f} s (cpu {min(cpus["template"]):.1f} s), '
                  f'{speedups[name]:.1f}x faster; SSIM {ssim:.4f} (worst frame {worst:.4f}); '
                  f'{_megabytes(outputs["single-pass"])} vs {_megabytes(outputs["template"])}')  # fmt: skip
            if name == 's3':
                how = 'copies its prepared ending' if args.prepare_endings else 'encodes the ending'
                print(f'  first order ending at this point of the loop ({how}): {first_template:.2f} s, '
                      f'{best["single-pass"] / first_template:.1f}x faster')  # fmt: skip
        _personalization_costs(assets, orders['s3'], spec, cache, work, args.repeat, walls_s3_template)
        print(f's3_speedup={speedups["s3"]:.1f} s1_speedup={speedups["s1"]:.2f} ssim={lowest_ssim:.4f}')
    return 0


def _personalization_costs(assets: AssetSet, segment: SantaSegment, spec: RenderSpec, cache: Path, work: Path,
                           repeat: int, base: float) -> None:  # fmt: skip
    """What an order's extras add to a strategy-3 template render (#14): each extra format, the
    WebVTT file, the poster, and burning the subtitles into the frames."""
    script = build_script(parse_order({'child_name': 'Lucia', 'age': 7, 'language': 'en', 'gender': 'girl',
                                       'parent_email': 'bench@example.com', 'consent': True}))  # fmt: skip
    main = work / 's3-template.mp4'
    for video_format in ('1:1', '16:9'):
        format_spec_ = format_spec(spec, video_format)
        started = time.monotonic()
        prepare_template(assets, format_spec_, cache, deadline=Deadline.after(TIMEOUT))
        prepared = time.monotonic() - started
        times = []
        for _ in range(repeat + 1):  # the first one keeps its ending: the later ones are an order's cost
            started = time.monotonic()
            compose_video(assets, segment, work / f'{video_name(video_format)}', format_spec_, timeout=TIMEOUT,
                          mode='template', template_cache_dir=cache, name_card=NAME_CARD)  # fmt: skip
            times.append(time.monotonic() - started)
        print(f'extra format {video_format} ({format_spec_.width}x{format_spec_.height}): '
              f'+{min(times[1:]):.2f} s per order; its template {prepared:.1f} s once')  # fmt: skip
    started = time.monotonic()
    vtt = subtitles_for(script, segment.speech, 'en', work / 'subtitles.vtt', offset=assets.intro.duration)
    print(f'subtitles (WebVTT from espeak-ng word events): +{time.monotonic() - started:.2f} s per order')
    started = time.monotonic()
    make_poster(main, assets.intro.duration + 1, work / 'poster.jpg')
    print(f'poster (JPEG): +{time.monotonic() - started:.2f} s per order')
    started = time.monotonic()
    burn_subtitles(main, vtt, spec)
    burned = time.monotonic() - started
    print(
        f'subtitles burned in (9:16, re-encodes the video): +{burned:.2f} s per order per format '
        f'({(base + burned) / base:.1f}x a template render of {base:.2f} s)'
    )


def _film_camera_like(directory: Path, spec: RenderSpec) -> None:
    """Stand-ins for filmed footage, with the placeholders' names, lengths and sound.

    Delivered as a production house would: masters at twice the output's size (UHD), so
    every frame is decoded and scaled down, moving and with a light sensor grain.
    """
    directory.mkdir(parents=True, exist_ok=True)
    size = f'{spec.width * 2}x{spec.height * 2}'
    for clip, hue in zip(PLACEHOLDERS, (200, 0, 120), strict=True):
        video = (f'testsrc2=s={size}:r={spec.fps}:d={clip.seconds},hue=h={hue},gblur=sigma=3,'
                 'noise=alls=3:allf=t')  # fmt: skip
        args = ['ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i', video]
        if clip.chime_hz:
            chime = f'sine=f={clip.chime_hz}:r=48000:d={clip.seconds},volume=0.3,aformat=channel_layouts=stereo'
            args += ['-f', 'lavfi', '-i', chime, '-c:a', 'aac', '-b:a', '128k']
        args += ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '16', '-pix_fmt', 'yuv420p', '-t', str(clip.seconds)]
        run([*args, str(directory / clip.role.file_name)], timeout=TIMEOUT)


def _megabytes(path: Path) -> str:
    return f'{path.stat().st_size / 1e6:.1f} MB'


def _children_cpu() -> float:
    """CPU seconds used so far by finished child processes (every FFmpeg run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _provider_clip(source: Path, seconds: float, out: Path) -> Path:
    """Like a lip-sync provider's answer: Santa at another size, frame rate and encoding, as long as the speech."""
    run(['ffmpeg', '-v', 'error', '-y', '-stream_loop', '-1', '-i', str(source), '-t', f'{seconds:.3f}',
         '-vf', 'scale=720:1280,hue=h=40,fps=25', '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20',
         str(out)], timeout=TIMEOUT)  # fmt: skip
    return out


def _ssim(first: Path, second: Path, log: Path) -> tuple[float, float]:
    """FFmpeg's ssim filter over the whole video: the mean of its per-frame All values, and the lowest."""
    graph = f"[0:v][1:v]ssim=stats_file='{log}'"
    run(['ffmpeg', '-v', 'error', '-i', str(first), '-i', str(second), '-lavfi', graph, '-f', 'null', '-'],
        timeout=TIMEOUT)  # fmt: skip
    values = [float(m.group(1)) for m in re.finditer(r'All:([0-9.]+)', log.read_text())]
    return sum(values) / len(values), min(values)


if __name__ == '__main__':
    sys.exit(main())
