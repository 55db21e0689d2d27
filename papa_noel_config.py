"""Papá Noel in one place: his voice per TTS provider, what he says, the footage and the output spec.

Change the persona here; nothing else in the code base hard-codes a voice, a line of
the script, an asset file name or an encoder setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Language = Literal['es', 'en']
LANGUAGES: tuple[Language, ...] = ('es', 'en')


# --- Voice, per TTS provider ---------------------------------------------------------


@dataclass(frozen=True)
class EspeakVoice:
    """espeak-ng, the offline voice: a deep, slow, warm male voice."""

    voices: dict[str, str] = field(default_factory=lambda: {'es': 'es', 'en': 'en-us'})
    words_per_minute: int = 140
    pitch: int = 25  # 0-99; low for a grandfatherly Santa
    amplitude: int = 120


@dataclass(frozen=True)
class ElevenLabsVoice:
    """ElevenLabs: the voice id comes from PAPA_NOEL_VOICE_ID (a secret of the account)."""

    model_id: str = 'eleven_multilingual_v2'
    output_format: str = 'mp3_44100_128'
    stability: float = 0.55
    similarity_boost: float = 0.8
    style: float = 0.35
    use_speaker_boost: bool = True
    speed: float = 0.92


ESPEAK = EspeakVoice()
ELEVENLABS = ElevenLabsVoice()


# --- Script templates, by language and age --------------------------------------------
# Placeholders: {name}, {age}, {message_sentence}: the parent's message introduced by the
# language's bridge, or empty when there is no message.
# Grammatical gender: `[boy|girl|neutral]` picks one form by the order's gender. It is read
# in the template only, never in a name or a message. The neutral form is worded so that it
# needs no gendered adjective at all (not "bueno/a").

Gender = Literal['girl', 'boy', 'neutral']
GENDERS: tuple[Gender, ...] = ('girl', 'boy', 'neutral')


@dataclass(frozen=True)
class ScriptTemplate:
    min_age: int
    max_age: int
    text: str


SCRIPT_TEMPLATES: dict[Language, tuple[ScriptTemplate, ...]] = {
    'es': (
        ScriptTemplate(
            1,
            5,
            '¡Jo, jo, jo! ¡Hola, {name}! Soy Papá Noel y te estoy mirando desde el Polo Norte. '
            '¡Ya tienes {age} años, [qué niño tan grande estás|qué niña tan grande estás|cuánto has crecido]! '
            '{message_sentence}'
            'Los duendes y yo te mandamos un abrazo enorme. ¡Feliz Navidad, {name}!',
        ),
        ScriptTemplate(
            6,
            9,
            '¡Jo, jo, jo! ¡Hola, {name}! Aquí Papá Noel, desde mi taller del Polo Norte. '
            'Me han contado que este año, con {age} años, te has portado muy bien. {message_sentence}'
            '[Sigue siendo así de bueno y de valiente|Sigue siendo así de buena y de valiente|'
            'Sigue portándote así de bien y con tanto valor]. ¡Feliz Navidad, {name}!',
        ),
        ScriptTemplate(
            10,
            17,
            '¡Jo, jo, jo! Hola, {name}. Soy Papá Noel. A tus {age} años ya sabes que la magia de la '
            'Navidad está en compartir y en cuidar a los demás. {message_sentence}'
            '[Estoy muy orgulloso de ti, eres un chico estupendo|Estoy muy orgulloso de ti, eres una chica estupenda|'
            'Estoy muy orgulloso de ti y de todo lo que haces]. '
            'Gracias por este año tan especial. ¡Feliz Navidad, {name}!',
        ),
    ),
    'en': (
        ScriptTemplate(
            1,
            5,
            'Ho, ho, ho! Hello, {name}! It is Santa Claus, watching you from the North Pole. '
            'You are {age} years old already, '
            '[what a big boy you are|what a big girl you are|how much you have grown]! '
            '{message_sentence}'
            'The elves and I send you a great big hug. Merry Christmas, {name}!',
        ),
        ScriptTemplate(
            6,
            9,
            'Ho, ho, ho! Hello, {name}! Santa Claus here, from my workshop at the North Pole. '
            'I hear that this year, at {age} years old, you have been very good. {message_sentence}'
            '[Keep being such a kind and brave boy|Keep being such a kind and brave girl|'
            'Keep being so kind and brave]. '
            'Merry Christmas, {name}!',
        ),
        ScriptTemplate(
            10,
            17,
            'Ho, ho, ho! Hello, {name}. This is Santa Claus. At {age}, you already know that the magic '
            'of Christmas is in sharing and caring for others. {message_sentence}'
            '[You are a wonderful young man|You are a wonderful young woman|I am so proud of everything you do]. '
            'Thank you for such a special year. Merry Christmas, {name}!',
        ),
    ),
}

# Santa passes the parents' message on as theirs: "we are proud of you" stays their words.
MESSAGE_BRIDGE: dict[Language, str] = {
    'es': 'Tus papás me han pedido que te diga: {message} ',
    'en': 'Your parents asked me to tell you: {message} ',
}

# What the name preview (POST /api/preview) says: the first words of every script.
GREETING: dict[Language, str] = {
    'es': '¡Hola, {name}!',
    'en': 'Hello, {name}!',
}


# --- Footage ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetRole:
    role: str
    file_name: str
    description: str


INTRO = AssetRole('intro', 'Frames_1_2_to_3.mov', 'opening animation that leads to Santa')
SANTA_BASE = AssetRole('santa_base', 'frame3_santa_base.mp4', 'Santa looking at the camera, looped under speech')
OUTRO = AssetRole('outro', 'Frame_4_NocheMagica.mov', 'closing "Noche Mágica" animation')
ASSET_ROLES: tuple[AssetRole, ...] = (INTRO, SANTA_BASE, OUTRO)

# Seconds that intro/Santa and Santa/outro overlap in the crossfades (video and audio).
INTRO_OVERLAP_SECONDS = 0.5
OUTRO_OVERLAP_SECONDS = 0.5


# --- Output spec ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSpec:
    width: int = 1080
    height: int = 1920
    fps: int = 30
    video_codec: str = 'libx264'
    profile: str = 'high'
    level: str = '4.0'
    crf: int = 23
    preset: str = 'medium'
    pixel_format: str = 'yuv420p'
    audio_codec: str = 'aac'
    audio_bitrate: str = '192k'
    # FFmpeg's 'fast' coder: at this bitrate it sounds at least as good as the default 'twoloop'
    # for ~40% less CPU (upstream's own finding when it made 'fast' the default in 2018).
    aac_coder: str = 'fast'
    # Mid/side stereo off: its per-band search was ~0.8 of the 1.5 CPU-s an order's AAC encode
    # took (FFmpeg 5.1, half a minute). The speech is the same in both channels, and at 96 kb/s a
    # channel the music beds lose nothing audible.
    aac_mid_side: bool = False
    audio_sample_rate: int = 48000
    # EBU R128 target for the speech, in LUFS / dBTP.
    speech_loudness_lufs: float = -16.0
    speech_true_peak_db: float = -1.5


OUTPUT = OutputSpec()


# --- Formats, poster, subtitles, name card (#14) ------------------------------------------
# Each format's size at full spec. A smaller configured output (OUTPUT_WIDTH, e.g. the tests'
# 180x320) scales every format by the same factor.
FORMAT_SIZES: dict[str, tuple[int, int]] = {'9:16': (1080, 1920), '1:1': (1080, 1080), '16:9': (1920, 1080)}
# Asset roles scaled to fill the frame and cropped (centred) per format; the others fit whole,
# padded (centred). Santa fills the square and landscape frames; the intro and outro, with
# their titles, are kept whole.
FORMAT_CROPPED_ROLES: dict[str, tuple[str, ...]] = {'9:16': (), '1:1': ('santa_base',), '16:9': ('santa_base',)}
# The poster: a still of Papá Noel, this many seconds into his segment, this wide.
POSTER_WIDTH = 1080
POSTER_SECONDS_INTO_SANTA = 1.0
POSTER_JPEG_QUALITY = 3  # FFmpeg's -q:v for MJPEG: 2 (best) .. 31
# Burned-in captions (BURN_SUBTITLES=true): libass style, scaled to the frame.
BURNED_SUBTITLE_STYLE = 'FontName=DejaVu Sans,Bold=1,Outline=2,Shadow=0,MarginV=40'
# The name on screen (NAME_CARD=true): the child's name as typed, drawn over the intro's last
# NAME_CARD_SECONDS (it fades out with the intro→Santa crossfade). Sizes are fractions of the
# frame's height, so every format and test size gets the same look; x/y are FFmpeg drawtext
# expressions (w, h: the frame; text_w, text_h: the drawn name). DejaVu is Debian's
# fonts-dejavu-core (scripts/bootstrap.sh, Dockerfile).
NAME_CARD_SECONDS = 1.0
NAME_CARD_FONT_FILE = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'
NAME_CARD_FONT_SIZE = 0.06
# A longer name is drawn smaller, to fit this fraction of the frame's width (estimated from an
# average glyph this many em wide).
NAME_CARD_MAX_WIDTH = 0.9
NAME_CARD_GLYPH_WIDTH = 0.7
NAME_CARD_COLOR = 'white'
NAME_CARD_BORDER_COLOR = 'black'
NAME_CARD_BORDER_WIDTH = 0.004
NAME_CARD_X = '(w-text_w)/2'
NAME_CARD_Y = 'h*0.70-text_h/2'
