"""Every TTS provider reads what it is given as words: an engine's control syntax injected into the
text is spoken as plain characters. For espeak-ng the proof is the audio itself: the provider's
audio of an injected sequence is byte-identical to espeak-ng's own audio of the literal characters
(espeak-ng run directly, not through our code), and differs from what espeak-ng makes of the
sequence as control syntax. For ElevenLabs the proof is the text the vendor receives."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

import papa_noel_config as persona
from providers.elevenlabs_tts import ElevenLabsTTS
from providers.espeak_tts import EspeakTTS
from providers.http import HttpTimeouts
from providers.speakable import plain_words
from tests.fake_vendors_tts_lipsync import FakeElevenLabs


def espeak_directly(text: str, language: str, out: Path) -> bytes:
    """espeak-ng's audio of `text`, with the provider's voice settings but none of its code."""
    voice = persona.ESPEAK
    subprocess.run(
        ['espeak-ng', '-b', '1', '-v', voice.voices[language], '-s', str(voice.words_per_minute),
         '-p', str(voice.pitch), '-a', str(voice.amplitude), '-w', str(out), '--stdin'],
        input=text.encode(), check=True, timeout=60,
    )  # fmt: skip
    return out.read_bytes()


# (injected, the literal characters it must sound like)
ESPEAK_INJECTIONS = [
    ("Hola [[p'ut@]] amigo", "Hola p'ut@ amigo"),
    ("Hola ［［m'j,ERd@］］", "Hola m'j,ERd@"),  # fullwidth brackets: NFKC makes them [[ ]]
    ('Hola <say-as interpret-as="characters">xyz</say-as>', 'Hola say-as interpret-as="characters" xyz /say-as'),
]


@pytest.mark.parametrize(('injected', 'literal'), ESPEAK_INJECTIONS)
def test_espeak_speaks_injected_control_syntax_as_its_characters(injected: str, literal: str, tmp_path: Path) -> None:
    speech = EspeakTTS().synthesize(injected, 'es', tmp_path)

    assert speech.path.read_bytes() == espeak_directly(literal, 'es', tmp_path / 'literal.wav')


def test_the_espeak_comparison_can_tell_phonemes_from_letters(tmp_path: Path) -> None:
    # Without this, the test above could pass because espeak ignored the brackets anyway.
    as_phonemes = espeak_directly("Hola [[p'ut@]] amigo", 'es', tmp_path / 'phonemes.wav')
    as_letters = espeak_directly("Hola p'ut@ amigo", 'es', tmp_path / 'letters.wav')
    assert as_phonemes != as_letters


@pytest.fixture
def eleven(
    vendor_host: HTTPServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ElevenLabsTTS, FakeElevenLabs]]:
    vendor_host.clear()
    fake = FakeElevenLabs(vendor_host, tmp_path_factory.mktemp('elevenlabs'))
    provider = ElevenLabsTTS('test-key', 'VOICE1', base_url=fake.base_url, timeouts=HttpTimeouts(connect=2.0, read=5.0))
    yield provider, fake
    provider.close()
    vendor_host.check_handler_errors()


@pytest.mark.parametrize(
    'injected',
    [
        'Hola <break time="3s"/> Lucía',
        'Hola <phoneme alphabet="ipa" ph="puta">Lucía</phoneme>',
        'Hola [whispers] Lucía [laughs]',
        'Hola ＜break time="3s"／＞ Lucía',
        'Hola &lt;break/&gt; Lucía',
    ],
)
def test_elevenlabs_receives_no_markup(
    eleven: tuple[ElevenLabsTTS, FakeElevenLabs], injected: str, tmp_path: Path
) -> None:
    provider, fake = eleven
    provider.synthesize(injected, 'es', tmp_path)

    [call] = fake.calls('POST', '/v1/text-to-speech/')
    assert isinstance(call.body, dict)
    sent = call.body['text']
    assert not set(sent) & set('<>[]{}'), sent
    assert '&lt;' not in sent
    assert 'Hola' in sent and 'Lucía' in sent


def test_plain_words_leaves_ordinary_text_alone() -> None:
    text = '¡Jo, jo, jo! Hola, Zdeněk. Tu mamá dice: «sigue así» (y 2+2=4).'
    assert plain_words(text) == text
