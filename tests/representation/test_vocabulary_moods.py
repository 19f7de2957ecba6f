"""The prompt's mood words follow the circumplex finely enough to tell neighbouring moods apart."""

from __future__ import annotations

from promptloop.acquisition.affect import AFFECT_WORDS
from promptloop.representation.vocabulary import mood_words
from promptloop.synthesis.synth_prompt import read_prompt


def test_focused_music_is_not_written_as_excited_or_calm() -> None:
    words = {w: mood_words(a.valence, a.arousal) for w, a in AFFECT_WORDS.items()}
    assert words["focused"] not in {words["excited"], words["happy"], words["calm"], words["content"]}
    assert "energetic" not in words["focused"] and "uplifting" not in words["focused"]
    assert words["energized"] == words["excited"]  # neighbours share words
    assert words["sad"] == words["depressed"] and words["bored"] != words["sad"]
    assert words["serene"] != words["anxious"]
    assert "focused" not in mood_words(0.0, -0.08)  # the neutral middle of an anxious -> calm path


def test_mood_words_never_move_what_the_synth_reads_from_a_prompt() -> None:
    """The simple synth reads tempo, density, brightness and sound words back from a prompt (unknown
    words through the embedding model): mood words must not change what it reads from the plan's
    own words, nor add a voice."""
    plain = read_prompt("instrumental music, with piano, 90 bpm, C major, moderate volume, flowing, clear")
    for valence in (-0.9, -0.3, 0.2, 0.8):
        for arousal in (-0.8, 0.0, 0.3, 0.9):
            mood = mood_words(valence, arousal)
            read = read_prompt(f"{mood} instrumental music, with piano, 90 bpm, C major, moderate volume, flowing, clear")
            assert (read.tempo_bpm, read.density, read.brightness, read.dynamics, read.voices, read.mode) == (
                plain.tempo_bpm, plain.density, plain.brightness, plain.dynamics, plain.voices, plain.mode), mood
