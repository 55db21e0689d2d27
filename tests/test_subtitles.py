"""Subtitles: timed by the speech itself (espeak-ng's word events, ElevenLabs' character
alignment), written as typed, lines of at most 42 characters, at most 2 lines a cue."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import webvtt

from orders import build_script, parse_order
from providers.base import CharacterTiming, Speech
from providers.espeak_tts import EspeakTTS
from subtitles.cues import detected_silences, pcm_silences, silences, spoken_words, subtitles_for
from utils.proc import run

BASE: dict[str, Any] = {'parent_email': 'mama@example.com', 'consent': True}
LONG_MESSAGE = ('Estamos muy orgullosos de lo mucho que has aprendido este año en el colegio, '
                'de cómo cuidas a tu hermana pequeña y de lo bien que compartes tus juguetes')  # fmt: skip
TOLERANCE = 0.1


def order(**changes: Any) -> Any:
    return parse_order({**BASE, 'child_name': 'Xavi', 'name_pronunciation': 'Chabi', 'age': 7, 'gender': 'boy',
                        'message': LONG_MESSAGE, **changes})  # fmt: skip


@pytest.mark.parametrize('language', ['es', 'en'])
def test_espeak_word_timings_follow_the_audio(language: str, tmp_path: Path) -> None:
    script = build_script(order(language=language))
    speech = EspeakTTS().synthesize(script.spoken, language, tmp_path)
    words = spoken_words(speech, script.spoken, language)
    starts = [w[2] for w in words]
    # Nearly every word of the text has its own event (espeak-ng reports a dictionary phrase
    # such as "Santa Claus" as one word and places the second one badly).
    tokens = list(re.finditer(r'\w+', script.spoken))
    heard = [t for t in tokens if any(w[0] < t.end() and w[1] > t.start() for w in words)]
    assert len(heard) >= 0.9 * len(tokens)
    assert starts == sorted(starts)
    pauses = detected_silences(speech.path)
    # Independent evidence, the audio's energy (FFmpeg's silencedetect): after every real pause, the next word starts
    # as the voice comes back; no word starts in the middle of a pause.
    onsets = [end for start, end in pauses if end - start >= 0.2 and end < speech.duration - 0.05]
    assert len(onsets) >= 5
    for onset in onsets:
        nearest = min(starts, key=lambda s: abs(s - onset))
        assert abs(nearest - onset) <= TOLERANCE, f'voice back at {onset:.3f} s, nearest word at {nearest:.3f} s'
    for start in starts:
        for pause_start, pause_end in pauses:
            assert not pause_start + TOLERANCE < start < pause_end - TOLERANCE, f'word at {start:.3f} s in a pause'


def test_the_file_is_written_as_typed_in_short_lines_timed_by_the_words(tmp_path: Path) -> None:
    script = build_script(order())
    speech = EspeakTTS().synthesize(script.spoken, 'es', tmp_path)
    out = subtitles_for(script, speech, 'es', tmp_path / 'x.vtt', offset=2.5)
    assert out.read_text().startswith('WEBVTT')
    captions = webvtt.read(str(out)).captions
    text = ' '.join(' '.join(c.lines) for c in captions)
    assert text == ' '.join(script.written.split())  # every written word, once, in order
    assert 'Xavi' in text and 'Chabi' not in text
    assert all(len(line) <= 42 for c in captions for line in c.lines)
    assert all(1 <= len(c.lines) <= 2 for c in captions)
    assert any(len(c.lines) == 2 for c in captions)
    words = spoken_words(speech, script.spoken, 'es')
    first_starts = sorted({round(w[2] + 2.5, 3) for w in words})
    previous_end = 0.0
    for caption in captions:
        assert webvtt_seconds(caption.start) >= previous_end - 0.001
        start = webvtt_seconds(caption.start)
        nearest = min(first_starts, key=lambda s: abs(s - start))
        assert abs(nearest - start) <= TOLERANCE
        previous_end = webvtt_seconds(caption.end)
        assert previous_end > start
    assert webvtt_seconds(captions[0].start) == pytest.approx(2.5, abs=TOLERANCE)
    assert webvtt_seconds(captions[-1].end) <= speech.duration + 2.5 + TOLERANCE


def webvtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(':')
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_elevenlabs_character_alignment_times_the_written_name(tmp_path: Path) -> None:
    script = build_script(order(language='en', message='', age=3))
    spoken = script.spoken
    # 0.05 s a character, as ElevenLabs would answer for the text it was sent.
    alignment = tuple(CharacterTiming(c, i * 0.05, (i + 1) * 0.05) for i, c in enumerate(spoken))
    silent = tmp_path / 'silence.wav'
    run(['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=22050:cl=mono', '-t', str(len(spoken) * 0.05),
         str(silent)], timeout=30)  # fmt: skip
    speech = Speech(path=silent, duration=len(spoken) * 0.05, provider='elevenlabs', alignment=alignment)
    out = subtitles_for(script, speech, 'en', tmp_path / 'x.vtt', offset=0)
    captions = webvtt.read(str(out)).captions
    hello = next(c for c in captions if 'Hello, Xavi!' in c.text)
    at = spoken.index('Hello, Chabi!')
    assert webvtt_seconds(hello.start) == pytest.approx(at * 0.05, abs=0.002)
    assert webvtt_seconds(hello.end) == pytest.approx((at + len('Hello, Chabi!')) * 0.05, abs=0.002)


@pytest.mark.parametrize('language', ['es', 'en'])
def test_pauses_read_from_the_samples_are_those_silencedetect_finds(language: str, tmp_path: Path) -> None:
    speech = EspeakTTS().synthesize(build_script(order(language=language)).spoken, language, tmp_path)
    ours, ffmpegs = pcm_silences(speech.path), detected_silences(speech.path)
    assert ours is not None and len(ours) == len(ffmpegs) >= 5
    for (start, end), (their_start, their_end) in zip(ours, ffmpegs, strict=True):
        assert abs(start - their_start) <= 0.005 and (end == their_end or abs(end - their_end) <= 0.005)
    assert silences(speech.path) == ours
    not_pcm = tmp_path / 'speech.m4a'
    run(['ffmpeg', '-v', 'error', '-i', str(speech.path), '-c:a', 'aac', str(not_pcm)], timeout=60)
    assert pcm_silences(not_pcm) is None and silences(not_pcm) == detected_silences(not_pcm)


def test_a_fresh_process_times_its_first_speech_itself_and_any_later_one_in_a_child(tmp_path: Path) -> None:
    """A work horse synthesizes its one script's word timings without starting Python again."""
    script = f"""
import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from subtitles import espeak_words
from utils import proc
children = []
real_run = proc.run
def counting_run(args, **kw):
    children.append(args[0]); return real_run(args, **kw)
espeak_words.run = counting_run
first = espeak_words.word_timings('Hola Sofía, feliz Navidad.', 'es')
assert children == [], children
second = espeak_words.word_timings('Hola Sofía, feliz Navidad.', 'es')
assert children == [sys.executable], children
assert first == second, (first, second)
print('ok')
"""
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == 'ok', out.stderr


def test_a_work_horse_forked_after_the_library_was_loaded_times_words_as_a_fresh_process() -> None:
    """The worker loads libespeak-ng before forking (workers/warm.py); its horses' timings are a fresh process's."""
    script = f"""
import json, os, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from subtitles import espeak_words
text = 'Hola Mateo, ¿cómo estás? Feliz Navidad desde el Polo Norte.'
if sys.argv[1] == 'preloaded':
    espeak_words.load_library()
    read, write = os.pipe()
    if os.fork() == 0:
        os.write(write, repr(espeak_words.word_timings(text, 'es')).encode()); os._exit(0)
    os.close(write); os.wait(); print(os.read(read, 1 << 20).decode())
else:
    print(repr(espeak_words.word_timings(text, 'es')))
"""
    runs = [subprocess.run([sys.executable, '-c', script, how], capture_output=True, text=True, timeout=120)
            for how in ('preloaded', 'fresh')]  # fmt: skip
    assert runs[0].stdout and runs[0].stdout == runs[1].stdout, [r.stderr for r in runs]
