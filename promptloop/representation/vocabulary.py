"""The musical vocabulary shared by planners, prompt readers, renderers and the evaluator.

One table, :data:`GM_VOICES`, names every instrument a listener can ask for: each is a General MIDI
program (so the SoundFont renderer plays it as itself), with the words that mean it, the broad family
word that also covers it ("strings" covers "cello", so avoiding strings avoids cellos), and the
nearest of the procedural synth's eight voices (:data:`SYNTH_VOICES`), which the synth plays instead
and says so.  Words are canonical names here: "Violins" is "violin", not "strings"; a name that is
in no table is kept as the listener wrote it, so text generators (MusicGen) still receive it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AVOIDABLE_SOUNDS",
    "BRIGHTNESS_WORDS",
    "DENSITY_WORDS",
    "DYNAMICS_WORDS",
    "FAMILIES",
    "GENRES",
    "GM_VOICES",
    "HARSH_SOUNDS",
    "INSTRUMENTS",
    "SYNTH_VOICES",
    "TEXTURES",
    "Voice",
    "canonical",
    "covered_words",
    "density_word",
    "brightness_word",
    "mood_words",
    "gm_voice",
]


@dataclass(frozen=True)
class Voice:
    """One instrument a listener can name, as General MIDI plays it."""

    name: str
    program: int  # GM program 0-127 (for drums: the kit, on the percussion channel)
    role: str  # lead | keys | sustain | bass | drums: what the composer gives it to play
    low: int  # playable MIDI note range
    high: int
    family: str  # the broad word that also covers it
    synth: str  # the nearest of the procedural synth's voices
    words: tuple[str, ...] = ()  # other words that mean it
    harsh: bool = False  # sharp or shrill: gentle mode never plays it


_V = Voice
GM_VOICES: tuple[Voice, ...] = (
    _V("piano", 0, "keys", 21, 108, "keys", "piano", ("acoustic piano", "grand piano", "soft piano")),
    _V("bright piano", 1, "keys", 21, 108, "keys", "piano", ("upright piano",)),
    _V("electric piano", 4, "keys", 28, 103, "keys", "piano", ("rhodes", "e-piano", "electric pianos", "wurlitzer")),
    _V("harpsichord", 6, "keys", 29, 89, "keys", "piano"),
    _V("clavinet", 7, "keys", 29, 89, "keys", "piano", ("clavi",)),
    _V("celesta", 8, "keys", 60, 108, "keys", "bells", ("celeste",)),
    _V("glockenspiel", 9, "keys", 72, 108, "bells", "bells", (), True),
    _V("music box", 10, "keys", 60, 96, "bells", "bells"),
    _V("vibraphone", 11, "keys", 53, 89, "mallets", "bells", ("vibes", "vibraphones")),
    _V("marimba", 12, "keys", 45, 96, "mallets", "bells", ("marimbas",)),
    _V("xylophone", 13, "keys", 65, 108, "mallets", "bells", (), True),
    _V("bells", 14, "keys", 60, 77, "bells", "bells", ("bell", "tubular bells", "chimes", "church bells"), True),
    _V("dulcimer", 15, "keys", 48, 88, "keys", "guitar", ("hammered dulcimer", "santur")),
    _V("organ", 16, "sustain", 36, 96, "keys", "pads", ("hammond organ", "drawbar organ", "organs")),
    _V("church organ", 19, "sustain", 24, 96, "keys", "pads", ("pipe organ",)),
    _V("accordion", 21, "sustain", 41, 89, "keys", "pads", ("accordeon",)),
    _V("harmonica", 22, "lead", 60, 96, "winds", "flute", ("mouth organ",)),
    _V("guitar", 24, "keys", 40, 84, "guitar", "guitar", ("nylon guitar", "classical guitar", "spanish guitar", "guitars", "nylon-string guitar")),
    _V("acoustic guitar", 25, "keys", 40, 84, "guitar", "guitar", ("steel guitar", "steel-string guitar", "folk guitar")),
    _V("jazz guitar", 26, "keys", 40, 86, "guitar", "guitar"),
    _V("electric guitar", 27, "keys", 40, 86, "guitar", "guitar", ("clean guitar", "electric guitars")),
    _V("bass", 32, "bass", 28, 60, "bass", "bass", ("acoustic bass", "upright bass", "double bass", "bass line", "bassline")),
    _V("electric bass", 33, "bass", 28, 62, "bass", "bass", ("bass guitar", "fingered bass")),
    _V("synth bass", 38, "bass", 28, 60, "bass", "bass"),
    _V("violin", 40, "lead", 55, 100, "strings", "strings", ("violins",)),
    _V("viola", 41, "lead", 48, 88, "strings", "strings", ("violas",)),
    _V("cello", 42, "lead", 36, 76, "strings", "strings", ("cellos", "violoncello")),
    _V("contrabass", 43, "bass", 28, 60, "strings", "bass", ("bowed bass",)),
    _V("pizzicato strings", 45, "keys", 36, 96, "strings", "strings", ("pizzicato",)),
    _V("harp", 46, "keys", 24, 103, "plucked", "guitar", ("harps", "concert harp")),
    _V("timpani", 47, "bass", 40, 57, "percussion", "drums", (), True),
    _V("strings", 48, "sustain", 28, 96, "strings", "strings", ("string", "string ensemble", "string orchestra", "orchestra", "string section")),
    _V("slow strings", 49, "sustain", 28, 96, "strings", "strings", ("soft strings", "warm strings")),
    _V("synth strings", 50, "sustain", 36, 96, "synth", "strings"),
    _V("choir", 52, "sustain", 48, 79, "voice", "pads", ("choir aahs", "choral", "voices")),
    _V("voice", 53, "lead", 55, 79, "voice", "flute", ("humming", "voice oohs", "female voice", "vocal")),
    _V("synth voice", 54, "sustain", 48, 84, "voice", "pads"),
    _V("trumpet", 56, "lead", 55, 82, "brass", "flute", ("trumpets",)),
    _V("trombone", 57, "lead", 40, 72, "brass", "bass", ("trombones",)),
    _V("tuba", 58, "bass", 28, 58, "brass", "bass"),
    _V("muted trumpet", 59, "lead", 55, 82, "brass", "flute"),
    _V("french horn", 60, "lead", 41, 77, "brass", "strings", ("horn", "horns")),
    _V("brass", 61, "sustain", 36, 84, "brass", "strings", ("brass section",)),
    _V("soprano saxophone", 64, "lead", 56, 88, "winds", "flute", ("soprano sax",)),
    _V("saxophone", 65, "lead", 49, 81, "winds", "flute", ("sax", "alto sax", "alto saxophone")),
    _V("tenor saxophone", 66, "lead", 44, 76, "winds", "flute", ("tenor sax",)),
    _V("oboe", 68, "lead", 58, 91, "winds", "flute"),
    _V("english horn", 69, "lead", 52, 81, "winds", "flute", ("cor anglais",)),
    _V("bassoon", 70, "lead", 34, 72, "winds", "bass"),
    _V("clarinet", 71, "lead", 50, 91, "winds", "flute", ("clarinets",)),
    _V("piccolo", 72, "lead", 74, 108, "winds", "flute", (), True),
    _V("flute", 73, "lead", 60, 96, "winds", "flute", ("flutes", "alto flute")),
    _V("recorder", 74, "lead", 60, 96, "winds", "flute"),
    _V("pan flute", 75, "lead", 60, 96, "winds", "flute", ("panpipes", "pan pipes", "pan-flute")),
    _V("shakuhachi", 77, "lead", 55, 84, "winds", "flute", ("bamboo flute",)),
    _V("whistle", 78, "lead", 60, 96, "winds", "flute", ("tin whistle", "whistling")),
    _V("ocarina", 79, "lead", 60, 84, "winds", "flute"),
    _V("synth lead", 81, "lead", 48, 96, "synth", "flute", ("lead synth", "synth", "synthesizer")),
    _V("pads", 89, "sustain", 36, 84, "pads", "pads", ("pad", "soft pads", "synth pads", "warm pads", "warm pad", "ambient pads")),
    _V("new age pad", 88, "sustain", 36, 84, "pads", "pads", ("fantasia",)),
    _V("choir pad", 91, "sustain", 36, 84, "pads", "pads", ("space voice",)),
    _V("halo pad", 94, "sustain", 36, 84, "pads", "pads"),
    _V("sweep pad", 95, "sustain", 36, 84, "pads", "pads"),
    _V("sitar", 104, "keys", 48, 84, "world", "guitar"),
    _V("banjo", 105, "keys", 48, 84, "guitar", "guitar"),
    _V("koto", 107, "keys", 48, 90, "world", "guitar"),
    _V("kalimba", 108, "keys", 55, 91, "mallets", "bells", ("thumb piano", "mbira")),
    _V("bagpipe", 109, "lead", 55, 80, "winds", "flute", ("bagpipes",)),
    _V("fiddle", 110, "lead", 55, 96, "strings", "strings"),
    _V("steel drums", 114, "keys", 52, 88, "mallets", "bells", ("steel drum", "steelpan", "steel pan"), True),
    _V("taiko", 116, "bass", 36, 60, "percussion", "drums", ("taiko drums",), True),
    _V("drums", 0, "drums", 35, 81, "percussion", "drums", ("drum", "drum kit", "beats", "percussion"), True),
    _V("hand claps", 0, "drums", 35, 81, "percussion", "drums", ("claps", "handclaps", "clapping"), True),
)

# The procedural synth's own voices (promptloop.synthesis.synth); every Voice.synth is one of these.
SYNTH_VOICES: tuple[str, ...] = ("piano", "pads", "strings", "bells", "bass", "guitar", "flute", "drums")
INSTRUMENTS: tuple[str, ...] = tuple(v.name for v in GM_VOICES)
# Non-pitched or sustained textures.
TEXTURES: tuple[str, ...] = ("rain", "ocean", "drone", "wind", "birds")
GENRES: tuple[str, ...] = ("ambient", "classical", "lofi", "new age", "cinematic", "electronic", "folk")
# Sound qualities a listener can avoid besides instruments and textures.
AVOIDABLE_SOUNDS: tuple[str, ...] = ("high-pitched", "sudden changes", "percussion", "vocals")
# Family words: avoiding one avoids every voice of that family ("drums" stands for all percussion).
FAMILIES: dict[str, str] = {
    "strings": "strings", "guitar": "guitar", "bells": "bells", "drums": "percussion", "brass": "brass",
    "woodwinds": "winds", "winds": "winds", "pads": "pads", "synth": "synth", "mallets": "mallets",
    "voice": "voice",
}
# Things gentle mode (hyperacusis, misophonia, tinnitus) never allows.
HARSH_SOUNDS: frozenset[str] = frozenset({"drums", "percussion", "bells", "high-pitched", "birds"}) | frozenset(
    v.name for v in GM_VOICES if v.harsh
)

_BY_NAME: dict[str, Voice] = {v.name: v for v in GM_VOICES}
_ALIASES: dict[str, str] = {word: v.name for v in GM_VOICES for word in v.words} | {
    "rainfall": "rain",
    "waves": "ocean",
    "sea": "ocean",
    "ocean waves": "ocean",
    "drones": "drone",
    "birdsong": "birds",
    "high pitched": "high-pitched",
    "lo-fi": "lofi",
    "lo fi": "lofi",
    "woodwind": "woodwinds",
}


def canonical(term: str) -> str:
    """Lower-case, trimmed, alias-resolved name of a preference term (``"Violins"`` → ``"violin"``)."""
    cleaned = " ".join(term.strip().lower().split())
    return _ALIASES.get(cleaned, cleaned)


def gm_voice(term: str) -> Voice | None:
    """The General MIDI voice a word names, or None when General MIDI has no such instrument."""
    return _BY_NAME.get(canonical(term))


def covered_words(forbidden: Iterable[str]) -> frozenset[str]:
    """Every word that names something in ``forbidden``: the terms, their aliases and, for a
    family word, each voice of the family with its aliases (``{"strings"}`` covers ``"cellos"``); for a
    voice, the family words that would play it (``{"violin"}`` covers ``"strings"``)."""
    terms = {canonical(t) for t in forbidden}
    families = {FAMILIES[t] for t in terms if t in FAMILIES}
    names = terms | {v.name for v in GM_VOICES if v.family in families}
    # The other way too: a family word names an ensemble of its voices, so avoiding one voice
    # ("violin") forbids the word that would bring it back ("strings").
    member_families = {v.family for v in GM_VOICES if v.name in terms}
    names |= {word for word, family in FAMILIES.items() if family in member_families}
    return frozenset(names | {alias for alias, target in _ALIASES.items() if target in names})


# The words prompts use for a plan's dynamics, density and brightness: the rule planner writes them
# and the synth's prompt reader reads them back (one table, so what is written is what is read).
DYNAMICS_WORDS: dict[str, str] = {"pp": "very soft", "p": "soft", "mp": "moderate volume", "mf": "strong", "f": "loud"}
# (word, written for values below this bound, the value it is read as)
DENSITY_WORDS: tuple[tuple[str, float, float], ...] = (("sparse", 0.35, 0.2), ("flowing", 0.65, 0.5),
                                                       ("busy", 1.01, 0.85))
BRIGHTNESS_WORDS: tuple[tuple[str, float, float], ...] = (("dark", 0.25, 0.15), ("warm", 0.5, 0.3),
                                                          ("clear", 0.7, 0.6), ("bright", 1.01, 0.8))


def _word_for(value: float, table: tuple[tuple[str, float, float], ...]) -> str:
    return next(word for word, below, _ in table if value < below)


def density_word(density: float) -> str:
    """The prompt word for a density in [0, 1] (``0.2`` → ``"sparse"``)."""
    return _word_for(density, DENSITY_WORDS)


def brightness_word(brightness: float) -> str:
    """The prompt word for a brightness in [0, 1] (``0.8`` → ``"bright"``)."""
    return _word_for(brightness, BRIGHTNESS_WORDS)


#: A prompt's mood words by region of the circumplex: arousal low (<= -0.3), settled (below 0),
#: moderate (below 0.35) and high, and valence in four bands (strongly or mildly negative, mildly
#: or strongly positive, split at ±0.45), so "focused" (0.3, 0.3) is not written as "excited"
#: (0.7, 0.85) is, nor the neutral middle of a calming path as "focused".  MusicGen reads these
#: words (the embedded renderer plays the plan's numbers); none of them is one the synth's prompt
#: reader takes for a tempo, density, brightness or sound, and each agrees with the plan's mode.
MOOD_WORDS: dict[str, tuple[str, str, str, str]] = {
    "low": ("melancholic, still", "subdued, wistful", "peaceful, calm", "serene, peaceful"),
    "settled": ("sombre, brooding", "pensive", "settled, centred", "warm, hopeful"),
    "moderate": ("sombre, brooding", "pensive", "focused, centred", "warm, hopeful"),
    "high": ("tense, restless", "restless, searching", "purposeful, spirited", "uplifting, energetic"),
}
MOOD_AROUSAL_LOW, MOOD_AROUSAL_HIGH, MOOD_VALENCE_STRONG = -0.3, 0.35, 0.45


def mood_words(valence: float, arousal: float) -> str:
    """The mood words a prompt gives music at this point of the circumplex."""
    level = ("low" if arousal <= MOOD_AROUSAL_LOW else "settled" if arousal < 0
             else "moderate" if arousal < MOOD_AROUSAL_HIGH else "high")
    band = (0 if valence <= -MOOD_VALENCE_STRONG else 1 if valence < 0 else 2 if valence < MOOD_VALENCE_STRONG else 3)
    return MOOD_WORDS[level][band]
