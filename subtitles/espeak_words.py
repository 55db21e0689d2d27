"""Word timings of espeak-ng speech, from espeak-ng's own word events.

The CLI writes the audio but says nothing about timing; the library it is built on reports,
while it synthesizes, an event at each word with the word's place in the text and its
position in the audio. The same library with the same voice, rate, pitch and amplitude
makes the same samples as the CLI, so these timings are the CLI audio's timings (the test
checks that both come out the same length). Called through ctypes: no binding on PyPI is
kept up to date, and this is five calls of a stable C API (espeak-ng's speak_lib.h).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import papa_noel_config as persona
from utils.proc import CommandError, run

TIMEOUT_SECONDS = 60
_ROOT = str(Path(__file__).resolve().parent.parent)
_CHILD = f'import sys; sys.path.insert(0, {_ROOT!r}); from subtitles.espeak_words import _main; _main()'

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED = 0, 1, 5, 6
_RATE, _VOLUME, _PITCH = 1, 2, 3


class _Event(ctypes.Structure):
    _fields_ = [
        ('type', ctypes.c_int),
        ('unique_identifier', ctypes.c_uint),
        ('text_position', ctypes.c_int),
        ('length', ctypes.c_int),
        ('audio_position', ctypes.c_int),
        ('sample', ctypes.c_int),
        ('user_data', ctypes.c_void_p),
        ('id', ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_lock = threading.Lock()  # the library keeps one global synthesizer per process
_library: list[tuple[ctypes.CDLL, int]] = []
_claimed: list[bool] = []  # this process has synthesized (or is synthesizing) in process once


class EspeakTimingError(Exception):
    pass


@dataclass(frozen=True)
class SpokenWord:
    start: int  # character offset in the text (0-based)
    end: int
    start_seconds: float
    end_seconds: float


@dataclass(frozen=True)
class Synthesis:
    words: tuple[SpokenWord, ...]
    duration: float  # of the samples synthesized


def _load() -> tuple[ctypes.CDLL, int]:
    if not _library:
        name = ctypes.util.find_library('espeak-ng') or 'libespeak-ng.so.1'
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise EspeakTimingError(f'libespeak-ng not found ({exc})') from exc
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
        if rate <= 0:
            raise EspeakTimingError('libespeak-ng did not initialize')
        _library.append((lib, rate))
    return _library[0]


def load_library() -> None:
    """Load and initialize the library, synthesizing nothing: a worker does it before it forks,
    so each work horse starts with it loaded (~25 ms of CPU an order) and is still a process
    that has never synthesized, as word_timings needs."""
    with _lock:
        _load()


def word_timings(text: str, language: str, voice: persona.EspeakVoice = persona.ESPEAK) -> Synthesis:
    """Where each word of `text` is heard in espeak-ng's speech of it, as EspeakTTS speaks it.

    In a process that has never loaded the library, as each run of the CLI is: a voice loaded
    before leaves settings behind that change the next one's timing, and the library does not
    start over cleanly (espeak_Terminate then espeak_Initialize hangs the next synthesis). A
    work horse, forked for one job from a worker that never synthesizes, is such a process the
    first time: it synthesizes here, and saves a Python start (~0.2 CPU-s an order on our 2-core
    machine). Any later call starts a process of its own.
    """
    if _claim_fresh_process():
        return _in_process(text, language, voice)
    request = json.dumps({'text': text, 'language': language, 'voice': dataclasses.asdict(voice)})
    try:
        out = run([sys.executable, '-c', _CHILD], timeout=TIMEOUT_SECONDS, stdin=request.encode('utf-8'))
        answer = json.loads(out)
    except (CommandError, ValueError) as exc:
        raise EspeakTimingError(f'espeak-ng word timings: {exc}') from exc
    return Synthesis(tuple(SpokenWord(*w) for w in answer['words']), answer['duration'])


def _claim_fresh_process() -> bool:
    """True once, for the first caller in a process that has never loaded the library (only
    _in_process loads it, and a forked child inherits the parent's claim)."""
    with _lock:
        if _claimed:
            return False
        _claimed.append(True)
        return True


def _in_process(text: str, language: str, voice: persona.EspeakVoice) -> Synthesis:
    with _lock:
        lib, sample_rate = _load()
        samples = 0
        raw: list[tuple[int, int, int, int]] = []  # (type, text_position, length, audio ms)

        def on_audio(wav: object, count: int, events: ctypes._Pointer[_Event]) -> int:
            nonlocal samples
            samples += max(count, 0)
            i = 0
            while events[i].type != _EVENT_LIST_TERMINATED:
                e = events[i]
                raw.append((e.type, e.text_position, e.length, e.audio_position))
                i += 1
            return 0

        callback = _CALLBACK(on_audio)
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice.voices[language].encode()) != 0:
            raise EspeakTimingError(f'no espeak-ng voice {voice.voices[language]!r}')
        lib.espeak_SetParameter(_RATE, voice.words_per_minute, 0)
        lib.espeak_SetParameter(_PITCH, voice.pitch, 0)
        lib.espeak_SetParameter(_VOLUME, voice.amplitude, 0)
        data = text.encode('utf-8')
        buffer = ctypes.create_string_buffer(data)
        status = lib.espeak_Synth(buffer, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        if status != 0:
            raise EspeakTimingError(f'espeak_Synth failed ({status})')
    duration = samples / sample_rate
    return Synthesis(_words(raw, duration), duration)


def _words(raw: list[tuple[int, int, int, int]], duration: float) -> tuple[SpokenWord, ...]:
    words: list[SpokenWord] = []
    for index, (kind, position, length, ms) in enumerate(raw):
        if kind != _EVENT_WORD or length <= 0:  # a clause's empty opening event names no word
            continue
        # A word lasts until the next word starts, or the clause it ends does.
        end_ms = next((later for k, _, _, later in raw[index + 1 :] if k in (_EVENT_WORD, _EVENT_END,
                       _EVENT_MSG_TERMINATED) and later >= ms), round(duration * 1000))  # fmt: skip
        # text_position counts characters from 1.
        words.append(SpokenWord(position - 1, position - 1 + length, ms / 1000, max(end_ms, ms) / 1000))
    return tuple(words)


def _main() -> None:
    request = json.loads(sys.stdin.buffer.read().decode('utf-8'))
    result = _in_process(request['text'], request['language'], persona.EspeakVoice(**request['voice']))
    json.dump({'duration': result.duration, 'words': [dataclasses.astuple(w) for w in result.words]}, sys.stdout)


if __name__ == '__main__':
    _main()
