"""WebVTT subtitles of what Papá Noel says, timed from the speech itself.

Timings come from the TTS: ElevenLabs answers each character's start and end; for espeak-ng
they are espeak-ng's own word events (subtitles.espeak_words). Words end where the speech
falls silent (read from its samples, as silencedetect would), not where the next clause
starts. The text shown is the written script (the name as typed), timed by where its pieces are in the spoken one
(the name's respelling). Lines hold at most 42 characters, cues at most 2 lines, and a cue
never runs across the end of a sentence. The file is written by webvtt-py.
"""

from __future__ import annotations

import difflib
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import webvtt

from orders.script import Script
from providers.base import Speech
from subtitles.espeak_words import word_timings
from utils.proc import CommandError, run

LINE_MAX = 42
LINES_PER_CUE = 2
SILENCE_DB = -40
SILENCE_SECONDS = 0.08
_SENTENCE_END = re.compile(r'[.!?…:]["»”)]*$')
_PCM_STEP = 64
_SILENCE = re.compile(rb'lavfi\.silence_(start|end)=(-?[0-9.]+)')


class SubtitleError(Exception):
    pass


@dataclass(frozen=True)
class Timed:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def spoken_words(speech: Speech, spoken: str, language: str) -> list[tuple[int, int, float, float]]:
    """(first char, end char, start s, end s) of each word of `spoken`, as the speech says it."""
    if speech.alignment:
        return _from_alignment(speech, spoken)
    if speech.provider == 'espeak':
        return [(w.start, w.end, w.start_seconds, w.end_seconds) for w in word_timings(spoken, language).words]
    raise SubtitleError(f'{speech.provider}: no timings to subtitle this speech')


def _from_alignment(speech: Speech, spoken: str) -> list[tuple[int, int, float, float]]:
    sent = ''.join(t.character for t in speech.alignment)
    # The characters index the text as sent; map them onto the script if it was changed on the way.
    index = list(range(len(sent)))
    if sent != spoken:
        index = [-1] * len(sent)
        for block in difflib.SequenceMatcher(None, sent, spoken, autojunk=False).get_matching_blocks():
            for k in range(block.size):
                index[block.a + k] = block.b + k
    words: list[tuple[int, int, float, float]] = []
    current: list[int] = []
    for i, timing in enumerate(speech.alignment):
        if timing.character.isspace() or index[i] < 0:
            if current:
                words.append(_word(speech, index, current))
                current = []
            continue
        current.append(i)
    if current:
        words.append(_word(speech, index, current))
    return words


def _word(speech: Speech, index: list[int], chars: list[int]) -> tuple[int, int, float, float]:
    first, last = chars[0], chars[-1]
    return index[first], index[last] + 1, speech.alignment[first].start, speech.alignment[last].end


def silences(path: Path) -> list[tuple[float, float]]:
    """The pauses in an audio file, (start, end) in seconds: read from the samples of a 16-bit
    mono PCM WAV (espeak-ng's), found by FFmpeg's silencedetect in anything else."""
    pauses = pcm_silences(path)
    return pauses if pauses is not None else detected_silences(path)


def pcm_silences(path: Path) -> list[tuple[float, float]] | None:
    """silencedetect's answer (every sample under SILENCE_DB for SILENCE_SECONDS or more), read
    from a 16-bit mono PCM WAV in this process to within a 64-sample step; None for another file.

    Not FFmpeg: its start costs ~0.1 CPU-s on our 2-core machine, more than the whole scan, and
    this runs once per order.
    """
    try:
        with wave.open(str(path), 'rb') as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                return None
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error):
        return None
    samples = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype='<i2')  # WAV is little-endian
    step = _PCM_STEP
    padded = np.zeros(-(-len(samples) // step) * step, dtype=np.int32)  # the last step padded with silence
    padded[: len(samples)] = samples
    quiet = np.abs(padded).reshape(-1, step).max(axis=1) < 32768 * 10 ** (SILENCE_DB / 20)
    edges = np.diff(np.concatenate(([0], quiet.astype(np.int8), [0])))
    pauses: list[tuple[float, float]] = []
    for first, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        start, stop = int(first) * step, min(int(end) * step, len(samples))
        if (stop - start) / rate >= SILENCE_SECONDS:
            pauses.append((start / rate, float('inf') if stop == len(samples) else stop / rate))
    return pauses


def detected_silences(path: Path) -> list[tuple[float, float]]:
    """The pauses in an audio file, (start, end) in seconds, by FFmpeg's silencedetect."""
    try:
        out = run(['ffmpeg', '-v', 'error', '-nostdin', '-i', str(path), '-af',
                   f'silencedetect=noise={SILENCE_DB}dB:d={SILENCE_SECONDS},ametadata=print:file=-', '-f', 'null', '-'],
                  timeout=60)  # fmt: skip
    except CommandError as exc:
        raise SubtitleError(f'{path.name}: {exc}') from exc
    pauses: list[tuple[float, float]] = []
    start: float | None = None
    for kind, value in _SILENCE.findall(out):
        if kind == b'start':
            start = max(0.0, float(value))
        elif start is not None:
            pauses.append((start, float(value)))
            start = None
    if start is not None:
        pauses.append((start, float('inf')))
    return pauses


def timed_words(script: Script, words: list[tuple[int, int, float, float]],
                pauses: list[tuple[float, float]]) -> list[Timed]:  # fmt: skip
    """The written script's words, each timed by the spoken words under it."""
    # Where each written character is in the spoken text: itself, or (the name) the whole respelling.
    spans: list[tuple[int, int]] = []
    offset = 0
    for piece in script.pieces:
        if piece.spoken == piece.written:
            spans += [(offset + i, offset + i + 1) for i in range(len(piece.written))]
        else:
            spans += [(offset, offset + len(piece.spoken))] * len(piece.written)
        offset += len(piece.spoken)
    found: list[tuple[str, float, float] | tuple[str, None, None]] = []
    for match in re.finditer(r'\S+', script.written):
        first = min(spans[i][0] for i in range(match.start(), match.end()))
        end = max(spans[i][1] for i in range(match.start(), match.end()))
        under = [w for w in words if w[0] < end and w[1] > first]
        if under:
            found.append((match.group(), min(w[2] for w in under), max(w[3] for w in under)))
        else:
            found.append((match.group(), None, None))
    timed: list[Timed] = []
    for index, (text, start, stop) in enumerate(found):
        if start is None or stop is None:
            # A token the engine gave no event of its own (a phrase it says as one word):
            # it is heard with the next word that has one, or else at the end of the last.
            following = next((f[1] for f in found[index + 1 :] if f[1] is not None), None)
            start = stop = following if following is not None else (timed[-1].end if timed else 0.0)
        timed.append(Timed(text, start, _speech_end(start, stop, pauses)))
    return timed


def _speech_end(start: float, end: float, pauses: list[tuple[float, float]]) -> float:
    # A word's events run up to the next clause: it ends where the voice stops.
    for pause_start, _ in pauses:
        if start < pause_start < end:
            return pause_start
    return end


def cues(words: list[Timed], *, offset: float = 0.0) -> list[Cue]:
    """Words into cues of at most LINES_PER_CUE lines of at most LINE_MAX characters."""
    result: list[Cue] = []
    lines: list[str] = []
    first: Timed | None = None
    last: Timed | None = None
    for word in words:
        text = word.text if len(word.text) <= LINE_MAX else word.text[:LINE_MAX]
        if lines and len(lines[-1]) + 1 + len(text) <= LINE_MAX:
            lines[-1] += ' ' + text
        elif len(lines) < LINES_PER_CUE and first is not None:
            lines.append(text)
        else:
            if first is not None and last is not None:
                result.append(Cue(first.start + offset, last.end + offset, tuple(lines)))
            lines, first = [text], word
        first = first or word
        last = word
        if _SENTENCE_END.search(word.text):
            result.append(Cue(first.start + offset, last.end + offset, tuple(lines)))
            lines, first = [], None
    if lines and first is not None and last is not None:
        result.append(Cue(first.start + offset, last.end + offset, tuple(lines)))
    return result


def write_vtt(all_cues: list[Cue], out: Path) -> Path:
    vtt = webvtt.WebVTT()
    for cue in all_cues:
        end = max(cue.end, cue.start + 0.001)
        vtt.captions.append(webvtt.Caption(_stamp(cue.start), _stamp(end), '\n'.join(cue.lines)))
    vtt.save(str(out))
    return out


def _stamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    return f'{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}'


def subtitles_for(script: Script, speech: Speech, language: str, out: Path, *, offset: float) -> Path:
    """The WebVTT file of `script` as `speech` says it, starting `offset` seconds into the video."""
    words = spoken_words(speech, script.spoken, language)
    if not words:
        raise SubtitleError('the speech has no word timings')
    return write_vtt(cues(timed_words(script, words, silences(speech.path)), offset=offset), out)
