"""The fallback chain with fake providers that produce real media."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain import DEFAULT_CHAIN, ChainContext, ChainExhausted, run_chain
from providers.base import ProviderSet
from providers.errors import ContentRejected, PermanentProviderError, ProviderTimeout
from providers.fake import FakeLipSync, FakeTalkingVideo, FakeTTS


def context(tmp_path: Path, small_assets: Path, providers: ProviderSet) -> ChainContext:
    return ChainContext(
        script='Hola',
        language='es',
        base_video=small_assets / 'frame3_santa_base.mp4',
        workdir=tmp_path,
        providers=providers,
    )


def test_chain_order_is_lipsync_then_talking_video_then_voiceover() -> None:
    assert [s.name for s in DEFAULT_CHAIN] == ['lipsync', 'talking_video', 'voiceover']


def test_without_remote_providers_strategies_1_and_2_are_skipped_with_the_reason(
    tmp_path: Path, small_assets: Path
) -> None:
    outcome = run_chain(context(tmp_path, small_assets, ProviderSet(tts=(FakeTTS(),))))
    assert outcome.strategy == 'voiceover'
    assert outcome.segment.loop_video
    skipped = {a.strategy: a.reason for a in outcome.attempts if a.outcome == 'skipped'}
    assert skipped == {
        'lipsync': 'no lip-sync provider configured',
        'talking_video': 'no talking-video provider configured',
    }


def test_lipsync_wins_when_it_works(tmp_path: Path, small_assets: Path) -> None:
    lipsync = FakeLipSync()
    outcome = run_chain(context(tmp_path, small_assets, ProviderSet(tts=(FakeTTS(),), lipsync=(lipsync,))))
    assert outcome.strategy == 'lipsync'
    assert outcome.segment.providers == {'tts': 'fake-tts', 'lipsync': 'fake-lipsync'}
    assert not outcome.segment.loop_video and outcome.segment.video.is_file()


def test_failed_lipsync_falls_through_to_the_next_provider_then_strategy(tmp_path: Path, small_assets: Path) -> None:
    tts = FakeTTS()
    providers = ProviderSet(
        tts=(tts,),
        lipsync=(
            FakeLipSync('lip-a', failures=[ProviderTimeout('lip-a', 'slow')]),
            FakeLipSync('lip-b', failures=[ContentRejected('lip-b', 'no')]),
        ),
        video=(FakeTalkingVideo(small_assets / 'frame3_santa_base.mp4'),),
    )
    outcome = run_chain(context(tmp_path, small_assets, providers))
    assert outcome.strategy == 'talking_video'
    failed = [(a.provider, a.error_type) for a in outcome.attempts if a.outcome == 'failed']
    assert failed == [('lip-a', 'ProviderTimeout'), ('lip-b', 'ContentRejected')]
    assert tts.calls == 1  # speech is made once and reused by the next strategy


def test_failed_tts_falls_back_to_the_next_tts(tmp_path: Path, small_assets: Path) -> None:
    providers = ProviderSet(tts=(FakeTTS('remote', failures=[PermanentProviderError('remote', 'bad key')]), FakeTTS()))
    outcome = run_chain(context(tmp_path, small_assets, providers))
    assert outcome.strategy == 'voiceover'
    assert outcome.segment.providers == {'tts': 'fake-tts'}


def test_when_every_strategy_fails_the_error_carries_every_attempt(tmp_path: Path, small_assets: Path) -> None:
    providers = ProviderSet(
        tts=(FakeTTS(failures=[ProviderTimeout('fake-tts', 'down')]),),
        lipsync=(FakeLipSync(),),
    )
    with pytest.raises(ChainExhausted) as info:
        run_chain(context(tmp_path, small_assets, providers))
    outcomes = [(a.strategy, a.outcome) for a in info.value.attempts]
    assert outcomes == [
        ('lipsync', 'failed'),
        ('talking_video', 'skipped'),
        ('voiceover', 'failed'),
    ]
    assert isinstance(info.value.last_error, ProviderTimeout)


def test_a_provider_clip_that_is_not_video_counts_as_a_failure(tmp_path: Path, small_assets: Path) -> None:
    class BrokenLipSync(FakeLipSync):
        def sync(self, video, speech, workdir):
            bad = workdir / 'truncated.mp4'
            bad.write_bytes(b'\x00\x00\x00\x18ftypmp42' + b'\x00' * 10)
            return bad

    outcome = run_chain(context(tmp_path, small_assets, ProviderSet(tts=(FakeTTS(),), lipsync=(BrokenLipSync(),))))
    assert outcome.strategy == 'voiceover'
    assert [a.provider for a in outcome.attempts if a.outcome == 'failed'] == ['fake-lipsync']
