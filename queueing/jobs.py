"""The function RQ runs for each video job. It runs inside a worker, so it is an edge:
it reads the settings and assembles the production from them."""

from __future__ import annotations

from functools import cache

from rq import get_current_job

from compose import RenderSpec
from pipeline import Production, produce_video
from providers import configured_providers
from queueing.records import JobRecords
from settings import Settings
from storage import LocalStorage


@cache
def current_production() -> Production:
    # Once per worker process: forked work horses inherit it ready-made.
    return production_from_settings(Settings())


def production_from_settings(settings: Settings) -> Production:
    storage = LocalStorage(settings.output_dir, public_base_url=settings.public_media_base_url)
    return Production(
        assets_dir=settings.assets_dir,
        temp_dir=settings.temp_dir,
        storage=storage,
        providers=configured_providers(settings, storage),
        spec=RenderSpec(width=settings.output_width, height=settings.output_height, preset=settings.x264_preset),
        compose_timeout=settings.compose_timeout_seconds,
    )


def process_video(video_id: str) -> str:
    job = get_current_job()
    if job is None:
        raise RuntimeError('process_video must run inside an RQ worker')
    return produce_video(video_id, JobRecords(job.connection), current_production())
