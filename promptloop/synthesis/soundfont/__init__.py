"""The sampled embedded default: a composer (plan -> score) and a General MIDI SoundFont renderer."""

from promptloop.synthesis.soundfont.generator import (
    DEBIAN_SOUNDFONTS,
    SoundFontGenerator,
    find_soundfont,
    soundfont_missing,
)

__all__ = ["DEBIAN_SOUNDFONTS", "SoundFontGenerator", "find_soundfont", "soundfont_missing"]
