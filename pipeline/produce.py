"""The stages of one video, in order, each reported to the job record and the log."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import events
from chain import DEFAULT_CHAIN, ChainContext, ChainExhausted, Strategy, run_chain
from compose import RenderSpec, compose_video, load_assets
from orders import render_script
from providers.registry import ProviderSet
from queueing.records import JobRecords, State
from storage import Storage
from utils.logs import video_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Production:
    """Everything a worker needs to turn an order into a stored video."""

    assets_dir: Path
    temp_dir: Path
    storage: Storage
    providers: ProviderSet
    spec: RenderSpec
    compose_timeout: float
    chain: Sequence[Strategy] = DEFAULT_CHAIN


class _Stages:
    """Marks the current stage in the record: entering one finishes the previous one."""

    def __init__(self, records: JobRecords, video_id: str) -> None:
        self.records = records
        self.video_id = video_id
        self.current = ''

    def enter(self, stage: str) -> None:
        self.finish()
        self.current = stage
        self.records.start_stage(self.video_id, stage)
        log.info(events.STAGE_STARTED, extra={'stage': stage})

    def finish(self) -> None:
        if self.current:
            self.records.finish_stage(self.video_id, self.current)
            log.info(events.STAGE_FINISHED, extra={'stage': self.current})
            self.current = ''


def produce_video(video_id: str, records: JobRecords, production: Production) -> str:
    """Run every stage for `video_id`; return the stored video's location."""
    record = records.get(video_id)
    if record is None:
        raise LookupError(f'no job record for video {video_id}')
    with video_context(video_id):
        if record.state is State.COMPLETED and production.storage.exists(video_id):
            return record.output
        log.info(events.JOB_STARTED, extra={'strategy_chain': [s.name for s in production.chain]})
        stages = _Stages(records, video_id)
        workdir = production.temp_dir / video_id
        workdir.mkdir(parents=True, exist_ok=True)
        ctx: ChainContext | None = None
        try:
            stages.enter('script')
            assets = load_assets(production.assets_dir, decode=False)
            script = render_script(record.order)
            ctx = ChainContext(
                script=script,
                language=record.order.language,
                base_video=assets.santa_base.path,
                workdir=workdir,
                providers=production.providers,
                on_stage=stages.enter,
            )
            outcome = run_chain(ctx, production.chain)
            stages.enter('compose')
            video = compose_video(
                assets, outcome.segment, workdir / 'final.mp4', production.spec, timeout=production.compose_timeout
            )
            stages.enter('store')
            location = production.storage.save(video_id, video)
            stages.finish()
        except Exception as exc:
            attempts = [asdict(a) for a in (ctx.attempts if ctx else [])]
            stage = stages.current
            records.fail(video_id, error=f'{stage}: {_describe(exc)}', attempts=attempts)
            log.error(events.JOB_FAILED, extra={'stage': stage, 'error_type': type(exc).__name__, 'error': str(exc)})
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        records.complete(
            video_id,
            output=location,
            strategy=outcome.strategy,
            providers=outcome.segment.providers,
            attempts=[asdict(a) for a in outcome.attempts],
        )
        log.info(events.JOB_COMPLETED, extra={'strategy': outcome.strategy, 'output': location})
        return location


def _describe(exc: Exception) -> str:
    if isinstance(exc, ChainExhausted):
        return str(exc)
    return f'{type(exc).__name__}: {exc}'
