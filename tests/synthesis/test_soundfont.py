"""The sampled embedded default: composer, General MIDI palette, FluidSynth renderer, MIDI out.

Three tiers: the composer and the vocabulary need nothing installed; render tests use a tiny
SoundFont written in a fixture (they need libfluidsynth); the instrument-signature, tempo and
arousal tests play Debian's FluidR3 (fluid-soundfont-gm), which `make setup` installs as root.
"""

from __future__ import annotations

import io
from pathlib import Path

import librosa
import mido
import numpy as np
import pytest
from tiny_soundfont import write_tiny_soundfont

from promptloop.acquisition.affect import Affect, parse_affect
from promptloop.audio.analysis import measure, sharp_transients
from promptloop.audio.mix import integrated_lufs
from promptloop.audio.percussion import percussive_hits
from promptloop.audio.transients import half_rise_s
from promptloop.evaluation.metrics import measure_cues
from promptloop.feedback.base import Evaluation, Evaluator, PlanContext
from promptloop.feedback.planners.rule import RulePlanner
from promptloop.representation.plan import KEYS, MusicPlan
from promptloop.representation.plan_checks import AUDIO_LIMITS, check_prompt
from promptloop.representation.preferences import Preferences
from promptloop.representation.vocabulary import GM_VOICES, canonical, covered_words, gm_voice
from promptloop.session.loop import SessionSpec, run_session
from promptloop.session.output import write_session
from promptloop.synthesis.base import GenerationRequest
from promptloop.synthesis.score import Note, Part, Score, scores_to_midi, to_midi
from promptloop.synthesis.soundfont import SoundFontGenerator, find_soundfont, soundfont_missing
from promptloop.synthesis.soundfont.compose import MAX_STRETCH, MILD_VALENCE, Composition, beat_grid, compose
from promptloop.synthesis.soundfont.render import GENTLE_HALF_RISE_S, FluidRenderer, fluidsynth_missing
from promptloop.synthesis.synth import SynthGenerator
from promptloop.wiring.settings import Settings

SR = 32000
NAMED = ("harp", "cello", "marimba", "vibraphone", "electric piano", "nylon guitar", "steel guitar", "choir",
         "kalimba", "flute", "violin", "clarinet", "organ", "hand claps")
FLUIDR3 = find_soundfont(None)
needs_fluidsynth = pytest.mark.skipif(fluidsynth_missing() is not None,
                                      reason=f"libfluidsynth is not installed: {fluidsynth_missing()}")
needs_gm_font = pytest.mark.skipif(FLUIDR3 is None or fluidsynth_missing() is not None,
                                   reason="no General MIDI SoundFont here (apt-get install fluid-soundfont-gm)")


def _plan(instruments: tuple[str, ...], valence: float = 0.3, arousal: float = 0.0, **kw) -> MusicPlan:
    prompt = kw.pop("prompt", "music with " + " and ".join(instruments))
    fields = {
        "tempo_bpm": 88.0 + 40 * arousal if arousal >= 0 else 88.0 + 32 * arousal,
        "mode": "major" if valence >= 0 else "minor",
        "dynamics": "f" if arousal > 0.6 else "pp" if arousal < -0.55 else "mp",
        "density": float(np.clip(0.5 + 0.4 * arousal, 0.05, 0.95)),
        "brightness": float(np.clip(0.45 + 0.15 * valence + 0.3 * arousal, 0.05, 0.95)),
        **kw,
    }
    return MusicPlan(prompt=prompt, instruments=instruments,
                     target_valence=valence, target_arousal=arousal, **fields)


def _composition(valence: float, arousal: float, gentle: bool = False) -> Composition:
    plan = _plan(("piano",), valence, arousal)
    return Composition(plan.tempo_bpm, plan.key, plan.mode, plan.dynamics, plan.density, plan.brightness,
                       valence, arousal, gentle)


# -- the vocabulary: every GM instrument a listener names stays that instrument -------------------
def test_named_instruments_are_kept_as_themselves():
    assert canonical("Violins") == "violin" and canonical("Rhodes") == "electric piano"
    for word in NAMED:
        voice = gm_voice(word)
        assert voice is not None, word
        assert canonical(word) == voice.name
    assert len({v.program for v in GM_VOICES if v.role != "drums"}) >= 60


def test_family_words_cover_their_members():
    covered = covered_words({"strings"})
    assert {"violin", "violins", "cello", "viola", "pizzicato strings"} <= covered
    assert "harp" not in covered and "piano" not in covered
    with pytest.raises(Exception, match="cello"):
        check_prompt("calm music with cello and piano", frozenset({"strings"}))
    check_prompt("calm music with harp and piano", frozenset({"strings"}))  # a harp is not a string section


def test_a_listeners_harp_reaches_the_prompt_and_nothing_is_added():
    prefs = Preferences.build("harp, ocean waves")
    assert prefs.instruments == ("harp", "ocean")
    context = PlanContext(0, 3, 10.0, parse_affect("calm"), parse_affect("calm"), parse_affect("calm"), prefs)
    plan = RulePlanner().draft(context)
    assert plan.instruments == ("harp",) and plan.textures == ("ocean",)
    assert "harp" in plan.prompt and "piano" not in plan.prompt


def test_the_synth_says_which_voice_plays_a_named_instrument():
    synth = SynthGenerator(use_embeddings=False)
    assert synth.substitutions(_plan(("harp", "piano"))) == {"harp": "guitar"}
    assert synth.substitutions(_plan(("piano",))) == {}


# -- the composer (no SoundFont needed) -----------------------------------------------------------
@pytest.mark.parametrize("word", NAMED)
def test_the_score_plays_each_named_instrument_with_its_gm_program(word):
    voice = gm_voice(word)
    assert voice is not None
    score = compose(_composition(0.3, 0.0), [voice], 8.0, seed=1, tail_s=1.0)
    parts = [p for p in score.parts if p.instrument == voice.name]
    assert parts and all(p.notes for p in parts)
    midi = mido.MidiFile(file=io.BytesIO(to_midi(score)))
    programs = {(m.channel, m.program) for t in midi.tracks for m in t if m.type == "program_change"}
    expected = (9, 0) if voice.role == "drums" else (parts[0].channel, voice.program)
    assert expected in programs


def test_midi_parses_and_matches_the_segment_length():
    score = compose(_composition(0.4, -0.4), [gm_voice("piano"), gm_voice("pads")], 10.0, seed=3, tail_s=1.0)
    midi = mido.MidiFile(file=io.BytesIO(to_midi(score)))
    assert midi.length == pytest.approx(10.0, abs=0.05)
    session = mido.MidiFile(file=io.BytesIO(scores_to_midi([score, score], [0.0, 9.0])))
    assert session.length == pytest.approx(19.0, abs=0.05)


def test_the_cadence_lands_where_the_next_segment_begins_and_tempo_glides():
    score = compose(_composition(0.4, -0.4), [gm_voice("piano")], 10.0, seed=3, start_tempo=120.0, tail_s=1.0)
    onsets = sorted({round(n.start, 3) for p in score.parts for n in p.notes})
    assert any(abs(t - 9.0) < 0.002 for t in onsets)  # the tonic chord at the seam (10 s - 1 s crossfade)
    steps = np.diff(score.beats)
    assert steps[0] == pytest.approx(0.5, rel=0.08)  # starts at the previous segment's 120 BPM
    assert 60 / steps[10] == pytest.approx(score_tempo(score), rel=0.01)


def score_tempo(score) -> float:
    return float(60 / np.median(np.diff(score.beats)[8:]))


@pytest.mark.parametrize("seconds", (5.0, 6.0, 7.0, 8.5, 11.0))
@pytest.mark.parametrize("tempo", (48.0, 52.0, 56.0, 59.0, 63.0, 66.0, 72.0, 84.0, 110.0))
def test_a_short_segment_plays_its_planned_tempo_and_never_cadences_past_the_seam(tempo, seconds):
    # Fitting a whole number of beats between the start and the seam moved 56 BPM to 60 in a 7 s
    # segment; now the grid stretches by at most MAX_STRETCH, else the cadence comes early and is held.
    seam = seconds - max(1.0, 60 / tempo)
    beats, cadence = beat_grid(seconds, tempo, tempo, seam)
    assert np.all(np.abs(60 / np.diff(beats) / tempo - 1) <= MAX_STRETCH + 1e-9)
    assert beats[cadence] <= seam + 1e-6 and seam - beats[cadence] < 60 / tempo * (1 + MAX_STRETCH)
    composition = Composition(tempo, "C", "major", "p", 0.3, 0.4, 0.2, -0.4)
    score = compose(composition, [gm_voice("piano"), gm_voice("pads")], seconds, seed=1, tail_s=1.0)
    assert np.allclose(score.beats, beats)
    held = [n.end for p in score.parts for n in p.notes if abs(n.start - beats[cadence]) < 0.2]
    assert held and max(held) >= seconds  # the cadence's chord rings through the seam


def test_energized_scores_are_denser_louder_and_faster_than_calm_ones():
    voices = [gm_voice("piano"), gm_voice("bass"), gm_voice("drums")]
    calm = compose(_composition(0.5, -0.6), voices, 10.0, seed=2, tail_s=1.0)
    energized = compose(_composition(0.5, 0.8), voices, 10.0, seed=2, tail_s=1.0)

    def stats(score):
        notes = [n for p in score.parts for n in p.notes if n.start < 9.0]
        return len(notes) / 9.0, float(np.mean([n.velocity for n in notes])), score_tempo(score)

    (cd, cv, ct), (ed, ev, et) = stats(calm), stats(energized)
    assert ed > 3 * cd and ev > cv + 25 and et > 1.5 * ct


def test_gentle_scores_have_no_drums_and_soft_velocities():
    voices = [gm_voice("piano"), gm_voice("drums")]
    score = compose(_composition(0.2, 0.7, gentle=True), voices, 8.0, seed=4, tail_s=1.0)
    assert all(not p.drums for p in score.parts)
    assert max(n.velocity for p in score.parts for n in p.notes) <= 74


@pytest.mark.parametrize("arousal", [-0.6, 0.0, 0.7])
def test_mildly_positive_music_is_written_in_mixolydian_and_strongly_positive_music_in_major(arousal):
    # Listeners rank Mixolydian's happiness below Ionian's (Temperley & Tan 2013): "focused" or "calm"
    # music should not sound as bright as "joyful".  The flat seventh sounds in the bVII chord.
    voices = [gm_voice("piano"), gm_voice("pads"), gm_voice("bass")]

    def degrees(valence: float) -> set[int]:
        c = _composition(valence, arousal)
        score = compose(c, voices, 10.0, seed=3, tail_s=1.0)
        return {(n.pitch - KEYS.index(c.key)) % 12 for p in score.parts if not p.drums for n in p.notes}

    mild, strong = degrees(0.3), degrees(MILD_VALENCE)
    assert 10 in mild and 11 not in mild
    assert 10 not in strong and 4 in mild and 4 in strong  # still major: the major third


# -- registration and the default ------------------------------------------------------------------
def test_missing_soundfont_keeps_the_synth_default_and_says_how_to_get_one(tmp_path):
    missing = tmp_path / "none.sf2"
    assert Settings(soundfont=missing).generator == "synth"
    reason = soundfont_missing(missing)
    assert reason is not None and "PROMPTLOOP_SOUNDFONT" in reason
    with pytest.raises(ValueError, match="sf2"):
        Settings(soundfont=tmp_path / "font.txt")


@needs_fluidsynth
def test_a_soundfont_makes_the_sampled_renderer_the_default(tiny_font):
    assert Settings(soundfont=tiny_font).generator == "soundfont"
    assert soundfont_missing(tiny_font) is None


# -- rendering with the tiny SoundFont built here --------------------------------------------------
@pytest.fixture(scope="module")
def tiny_font(tmp_path_factory) -> Path:
    return write_tiny_soundfont(tmp_path_factory.mktemp("sf") / "tiny.sf2")


@pytest.fixture(scope="module")
def tiny_generator(tiny_font) -> SoundFontGenerator:
    return SoundFontGenerator(tiny_font, use_embeddings=False)


def _one_note(generator: SoundFontGenerator, instrument: str, note: Note, seconds: float, volume: int,
              soft_attack: bool = False) -> np.ndarray:
    """``instrument`` playing ``note`` alone for ``seconds``, through the generator's renderer."""
    voice = gm_voice(instrument)
    assert voice is not None
    score = Score([Part(voice.name, voice.program, 0, "melody", volume, 64, [note])],
                  np.arange(0.0, seconds, 0.5), seconds, "C", "major")
    return generator._renderer.render(score, soft_attack=soft_attack)


def _held_note_decay(generator: SoundFontGenerator, instrument: str) -> float:
    """Energy in the second half of a held note over the first: plucked decays, blown sustains."""
    audio = _one_note(generator, instrument, Note(0.05, 2.0, 64, 100), 2.0, 110)
    early, late = audio[int(0.1 * SR):int(0.6 * SR)], audio[int(1.3 * SR):int(1.8 * SR)]
    return float(np.sqrt(np.mean(late**2)) / (np.sqrt(np.mean(early**2)) + 1e-12))


@needs_fluidsynth
def test_tiny_font_plays_each_program_with_its_own_envelope(tiny_generator):
    assert _held_note_decay(tiny_generator, "harp") < 0.2
    assert _held_note_decay(tiny_generator, "flute") > 0.8


@needs_fluidsynth
def test_renders_are_exact_length_and_repeatable(tiny_generator):
    request = GenerationRequest(_plan(("piano", "bass", "drums"), arousal=0.6), 5.0, seed=11, tail_s=1.0)
    other = GenerationRequest(_plan(("harp",), arousal=-0.5), 4.0, seed=2)
    (first,) = tiny_generator.generate([request])
    tiny_generator.generate([other])
    (again,) = tiny_generator.generate([request])
    assert first.size == 5 * SR and first.dtype == np.float32
    assert np.array_equal(first, again)
    assert np.max(np.abs(first)) > 0.01


@needs_fluidsynth
def test_gentle_mode_renders_without_sharp_transients(tiny_generator):
    plan = _plan(("piano", "harp"), valence=0.2, arousal=0.3, prompt="gentle piano and harp, soft attacks")
    (audio,) = tiny_generator.generate([GenerationRequest(plan, 8.0, seed=5, tail_s=1.0)])
    assert sharp_transients(audio, SR) == 0


def _gentle_note_half_rise(generator: SoundFontGenerator, instrument: str) -> float:
    audio = _one_note(generator, instrument, Note(0.05, 0.8, 60, 64), 1.2, 100, soft_attack=True)
    return half_rise_s(audio, SR, 0.05)


@needs_gm_font
@pytest.mark.parametrize("instrument", ("piano", "harp", "nylon guitar", "marimba"))
def test_gentle_attacks_are_as_long_in_any_soundfont(tiny_generator, gm_generator, instrument):
    # The attack offset adds to each preset's own attack: x32 gave FluidR3's piano a 115 ms swell (no
    # pulse) and x13.5 the test font's 1 ms piano a 19 ms click.  Each preset is measured.
    for generator in (tiny_generator, gm_generator):
        rise = _gentle_note_half_rise(generator, instrument)
        assert GENTLE_HALF_RISE_S <= rise <= 1.5 * GENTLE_HALF_RISE_S, (generator.soundfont.name, rise)
    assert (tiny_generator._renderer.gentle_attack_cents(gm_voice("piano").program)
            > gm_generator._renderer.gentle_attack_cents(gm_voice("piano").program) + 1200)


class _MeasuringEvaluator(Evaluator):
    """Scores every candidate the same (the loop's choice is not under test here)."""

    name = "measuring"

    def evaluate(self, audio: np.ndarray, sample_rate: int, plan: MusicPlan, context: PlanContext) -> Evaluation:
        return Evaluation(1.0, {}, measure(audio, sample_rate), context.waypoint, "")


def _session(generator, start: str, target: str, tmp: Path | None = None, **kw):
    spec = SessionSpec(start=parse_affect(start), target=parse_affect(target), segments=kw.pop("segments", 3),
                       segment_seconds=kw.pop("segment_seconds", 6.0), seed=kw.pop("seed", 3), candidates=1,
                       max_retries=0, **kw)
    session = run_session(spec, generator, RulePlanner(), _MeasuringEvaluator())
    if tmp is not None:
        write_session(tmp, session, plot=False)
    return session


@needs_fluidsynth
def test_session_mid_parses_and_matches_the_audio(tiny_generator, tmp_path):
    session = _session(tiny_generator, "anxious", "calm", tmp_path)
    audio_s = session.final_audio().size / SR
    midi = mido.MidiFile(tmp_path / "session.mid")
    assert midi.length == pytest.approx(audio_s, abs=0.1)
    record = session.record()
    assert record.midi == "session.mid"
    for seg in record.segments:
        assert seg.midi is not None
        assert mido.MidiFile(tmp_path / seg.midi).length == pytest.approx(seg.duration_s, abs=0.1)


# -- the real General MIDI SoundFont ----------------------------------------------------------------
@pytest.fixture(scope="module")
def gm_generator() -> SoundFontGenerator:
    assert FLUIDR3 is not None
    return SoundFontGenerator(FLUIDR3, use_embeddings=False)


@needs_gm_font
@pytest.mark.parametrize(("plucked", "sustained"), [("harp", "flute"), ("marimba", "cello"),
                                                     ("nylon guitar", "choir"), ("kalimba", "clarinet")])
def test_named_instruments_sound_plucked_or_sustained_as_they_are(gm_generator, plucked, sustained):
    assert _held_note_decay(gm_generator, plucked) < 0.35
    assert _held_note_decay(gm_generator, sustained) > 0.5


@needs_gm_font
@pytest.mark.parametrize("tempo", [66.0, 92.0, 120.0])
def test_the_requested_tempo_is_met(gm_generator, tempo):
    plan = _plan(("piano", "bass"), arousal=0.2, tempo_bpm=tempo, density=0.55)
    (audio,) = gm_generator.generate([GenerationRequest(plan, 12.0, seed=1)])
    found, _ = librosa.beat.beat_track(y=audio, sr=SR)
    assert float(np.atleast_1d(found)[0]) == pytest.approx(tempo, rel=0.08)


@needs_gm_font
@pytest.mark.parametrize(("tempo", "density"), [(59.0, 0.14), (69.0, 0.26)])
def test_slow_sparse_music_keeps_a_beat_at_its_tempo(gm_generator, tempo, density):
    # Relaxation music entrains through a pulse the listener can follow: held chords alone left the
    # beat to the estimators' priors (a 69 BPM plan read as 89-101 BPM).  Both the loop's estimator
    # and the harness's independent one must find the planned tempo.
    from promptloop.evaluation.metrics import measure_cues

    plan = _plan(("piano", "pads"), valence=0.3, arousal=-0.7, tempo_bpm=tempo, density=density)
    for seed in (1, 2, 3):
        (audio,) = gm_generator.generate([GenerationRequest(plan, 7.0, seed=seed, tail_s=1.0)])
        assert measure(audio, SR).tempo_bpm == pytest.approx(tempo, rel=0.08)
        assert measure_cues(audio, SR).tempo_bpm == pytest.approx(tempo, rel=0.08)


# Plans across keys, instrument sets and arousal (not the evaluation's scenarios).
_MODE_PLANS = (
    ("C", "major", ("piano", "pads"), 0.3), ("G", "major", ("guitar",), -0.5), ("F", "major", ("strings",), 0.6),
    ("D", "major", ("piano", "bass", "drums", "strings"), 0.7), ("C", "major", ("harp", "cello"), -0.2),
    ("G", "major", ("piano",), 0.0),
    ("A", "minor", ("piano", "pads"), -0.6), ("E", "minor", ("guitar",), 0.4), ("D", "minor", ("strings",), -0.3),
    ("A", "minor", ("piano", "bass", "drums", "strings"), 0.7), ("C", "minor", ("harp", "cello"), 0.1),
    ("E", "minor", ("piano",), -0.8),
)


@needs_gm_font
def test_the_planned_mode_is_the_mode_both_estimators_hear(gm_generator):
    # Valence rides mostly on mode.  Progressions through the relative key's chords (i-VI-III-VII)
    # made minor plans sound major, and an STFT chroma made the loop's own estimator hear C major as
    # E minor: before the fix the loop's estimator read 6 of these 12 right, the harness's 8.
    from promptloop.evaluation.metrics import measure_cues

    loop_right = harness_right = 0
    for i, (key, mode, instruments, arousal) in enumerate(_MODE_PLANS):
        plan = _plan(instruments, valence=0.6 if mode == "major" else -0.6, arousal=arousal, key=key)
        assert plan.mode == mode
        (audio,) = gm_generator.generate([GenerationRequest(plan, 6.0, seed=40 + i, tail_s=1.0)])
        loop_right += measure(audio, SR).mode == mode
        harness_right += measure_cues(audio, SR).mode == mode
    assert loop_right >= 11 and harness_right >= 8, (loop_right, harness_right)


@needs_gm_font
def test_a_short_segment_is_heard_in_its_own_key_not_its_dominants(gm_generator):
    # A three-bar segment whose progression put V in the bar before the cadence's own V (I-V-V-I)
    # gave the dominant more time than the tonic: before the fix 8 of these 32 renders (two seeds
    # in four) measured as the dominant's key (C major as G major, A minor as E major).
    misheard = []
    for seed in range(8):
        for key, valence in (("C", 0.6), ("A", -0.6), ("G", 0.4), ("D", -0.4)):
            plan = _plan(("piano", "bass", "drums"), valence=valence, arousal=0.7, key=key)
            (audio,) = gm_generator.generate([GenerationRequest(plan, 6.0, seed=seed, tail_s=1.0)])
            d = measure(audio, SR)
            if (d.key, d.mode) != (key, plan.mode):
                misheard.append((seed, f"{key} {plan.mode}", f"{d.key} {d.mode}"))
    assert not misheard


@needs_gm_font
def test_brightness_above_the_middle_brightens_and_gentle_mode_does_not(gm_generator):
    def centroid(brightness: float, prompt: str) -> float:
        plan = _plan(("piano", "pads"), valence=0.6, arousal=0.5, brightness=brightness, prompt=prompt)
        (audio,) = gm_generator.generate([GenerationRequest(plan, 7.0, seed=4, tail_s=1.0)])
        return measure(audio, SR).centroid_hz

    plain = "music with piano and pads"
    assert centroid(0.95, plain) > 1.3 * centroid(0.5, plain)
    gentle = "gentle piano and pads, soft attacks"
    assert centroid(0.95, gentle) < 1.1 * centroid(0.5, gentle)


@needs_gm_font
def test_calm_and_energized_endings_differ_by_clear_margins(gm_generator):
    calm = _session(gm_generator, "anxious", "calm", preferences=Preferences.build("piano"), segments=5,
                    segment_seconds=5.0)
    energized = _session(gm_generator, "calm", "energized", preferences=Preferences.build("piano"), segments=5,
                         segment_seconds=5.0)
    c, e = (measure(s.results[-1].audio, SR) for s in (calm, energized))
    assert e.loudness_lufs > c.loudness_lufs + 6
    assert e.onset_rate > 1.8 * c.onset_rate
    assert e.tempo_bpm > 1.35 * c.tempo_bpm
    assert integrated_lufs(energized.results[-1].audio, SR) <= -14.0


@needs_gm_font
def test_slow_gentle_music_keeps_its_pulse(gm_generator):
    # At attacks x32 with notes ringing into the next, slow gentle plans measured near 1.5 times
    # their tempo on the harness's estimator: 16 of these 18 renders missed by more than 10 BPM.
    planner, errors = RulePlanner(), []
    for word in ("bored", "calm", "content", "depressed", "relaxed", "sad", "serene", "sleepy", "tired"):
        affect = parse_affect(word)
        plan = planner.draft(PlanContext(segment_index=2, segments=3, segment_seconds=10.0, waypoint=affect,
                                         listener=affect, target=affect, preferences=Preferences(gentle=True)))
        assert plan.tempo_bpm < 85 and "gentle" in plan.prompt
        for audio in gm_generator.generate([GenerationRequest(plan, 10.0, s, session_seed=100 + s) for s in (0, 1)]):
            errors.append(abs(measure_cues(audio, SR).tempo_bpm - plan.tempo_bpm))
            assert sharp_transients(audio, SR) == 0
    assert sum(e <= 10 for e in errors) >= 14, np.round(errors, 1)


@needs_gm_font
def test_gentle_sampled_instruments_have_no_sharp_transients(gm_generator):
    plan = _plan(("piano", "harp"), valence=0.3, arousal=0.2, prompt="gentle piano and harp, soft attacks",
                 brightness=0.35)
    (audio,) = gm_generator.generate([GenerationRequest(plan, 10.0, seed=6, tail_s=1.0)])
    assert sharp_transients(audio, SR) == 0


@needs_gm_font
@pytest.mark.parametrize("instruments", [("piano",), ("piano", "pads"), ("marimba",)])
def test_sampled_piano_and_marimba_attacks_are_not_percussion(gm_generator, instruments):
    # FluidR3's hammer and mallet attacks lift most of the 2-12 kHz band in quiet passages; they
    # counted as drums and made every "no drums" calm session of the core report a violation.
    for seed, (tempo, dynamics, density) in enumerate([(66.0, "pp", 0.22), (85.0, "mp", 0.52)] * 2):
        plan = MusicPlan(prompt="music with " + " and ".join(instruments), tempo_bpm=tempo,
                         instruments=instruments, dynamics=dynamics, density=density)
        (audio,) = gm_generator.generate([GenerationRequest(plan, 6.0, seed)])
        assert percussive_hits(audio, SR) <= AUDIO_LIMITS["percussive_hits"], (instruments, dynamics, seed)


@needs_gm_font
@pytest.mark.parametrize("instruments", [("pads", "drums"), ("guitar", "drums")])
def test_sampled_drum_kits_are_found(gm_generator, instruments):
    plan = MusicPlan(prompt="music with " + " and ".join(instruments), tempo_bpm=100.0, instruments=instruments,
                     dynamics="mp", density=0.55)
    hits = [percussive_hits(gm_generator.generate([GenerationRequest(plan, 6.0, s)])[0], SR) for s in range(3)]
    assert sum(h > AUDIO_LIMITS["percussive_hits"] for h in hits) >= 2, hits


@needs_gm_font
@pytest.mark.parametrize(("instrument", "every", "low", "high"), [
    ("strings", 2.0, 0.0, 1.0), ("choir", 2.0, 0.0, 1.0), ("cello", 2.0, 0.0, 1.0),  # vibrato is not an onset
    ("piano", 0.5, 1.8, 2.2), ("harp", 0.5, 1.7, 2.2), ("flute", 0.5, 1.7, 2.2),
])
def test_onset_rate_counts_notes_not_vibrato(instrument, every, low, high):
    voice = gm_voice(instrument)
    notes = [Note(float(t), float(t + 0.98 * every), p, 70) for t in np.arange(0, 10.0, every) for p in (60, 64, 67)]
    score = Score([Part(instrument, voice.program, 0, "keys", notes=notes)], np.arange(0, 11.0, 0.5), 10.0, "C", "major")
    audio = FluidRenderer(FLUIDR3, SR).render(score)
    assert low <= measure(audio, SR).onset_rate <= high


def _ending(valence: float, arousal: float, prefs: Preferences) -> MusicPlan:
    """The rule planner's plan for the last of three 6 s segments, already at ``(valence, arousal)``."""
    affect = Affect(valence, arousal)
    return RulePlanner().draft(PlanContext(segment_index=2, segments=3, segment_seconds=6.0, waypoint=affect,
                                           listener=affect, target=affect, preferences=prefs))


def _heard(generator: SoundFontGenerator, plan: MusicPlan) -> list:
    """The harness's cues of three 6 s renders of ``plan`` (seeds 0-2)."""
    requests = [GenerationRequest(plan, 6.0, seed, session_seed=40 + seed) for seed in range(3)]
    return [measure_cues(audio, SR) for audio in generator.generate(requests)]


@needs_gm_font
@pytest.mark.parametrize("gentle", [False, True])
def test_the_independent_check_hears_the_planned_tempo_of_calm_and_energized_renders(gm_generator, gentle):
    # librosa's single-lag tempo (prior near 90 BPM), the harness's estimate until session 18, read
    # gentle 59-69 BPM plans as 87-101 BPM and 124 BPM plans as 85; the metrical comb hears the beat.
    # With a prior too weak for 6 s clips it read a 92 BPM piano render as 178.
    misread = []
    for valence, arousal in ((0.4, -0.7), (0.4, -0.5), (0.5, 0.1), (0.4, 0.6)):
        plan = _ending(valence, arousal, Preferences(gentle=gentle))
        for seed, cues in enumerate(_heard(gm_generator, plan)):
            if abs(cues.tempo_bpm / plan.tempo_bpm - 1) >= 0.08:
                misread.append((plan.tempo_bpm, seed, round(cues.tempo_bpm, 1)))
    assert not misread


def test_an_avoided_piano_hands_its_part_to_a_voice_suited_to_the_energy():
    assert _ending(0.8, 0.4, Preferences(avoid=["piano"])).instruments == ("strings", "pads")
    assert _ending(0.6, -0.6, Preferences(avoid=["piano"])).instruments == ("harp", "pads")
    assert _ending(0.8, 0.4, Preferences(avoid=["piano", "strings"])).instruments == ("guitar", "pads")
    assert _ending(-0.6, 0.6, Preferences(avoid=["piano"])).instruments == ("guitar", "bass", "drums", "strings")
    # The listener's own choice is kept as it is.
    assert _ending(0.8, 0.4, Preferences(instruments=["pads"], avoid=["piano"])).instruments == ("pads",)


@needs_gm_font
def test_without_piano_energising_music_stays_bright_and_calm_music_keeps_its_beat(gm_generator):
    # Pads alone (the old fallback) measured 1020 Hz against the piano's 1407 on the energising plan
    # and read a 69 BPM calm plan at 91 BPM.
    with_piano = np.mean([c.centroid_hz for c in _heard(gm_generator, _ending(0.8, 0.4, Preferences()))])
    without = np.mean([c.centroid_hz
                       for c in _heard(gm_generator, _ending(0.8, 0.4, Preferences(avoid=["piano"])))])
    assert without > 0.85 * with_piano, (without, with_piano)
    calm = _ending(0.6, -0.6, Preferences(avoid=["piano"]))
    assert all(abs(c.tempo_bpm / calm.tempo_bpm - 1) < 0.08 for c in _heard(gm_generator, calm))


@needs_gm_font
def test_the_harness_hears_mildly_positive_music_as_mixolydian_and_strongly_positive_music_as_ionian(gm_generator):
    # The harness's church-mode estimator on rendered music (its synthetic validation is in
    # tests/evaluation): the composer's colour must be audible, not only written.  Before the composer
    # wrote Mixolydian, 1 of the 6 mildly positive renders was heard so; the strongly positive ones
    # are heard as Ionian in 5 of 6 either way (the D major plan with drums reads Mixolydian).
    from promptloop.evaluation.metrics import measure_cues

    heard: dict[float, list[str]] = {0.3: [], 0.7: []}
    for i, (key, instruments, arousal) in enumerate(_COLOUR_PLANS):
        for valence, names in heard.items():
            plan = _plan(instruments, valence=valence, arousal=arousal, key=key)
            (audio,) = gm_generator.generate([GenerationRequest(plan, 8.0, seed=60 + i, tail_s=1.0)])
            names.append(measure_cues(audio, SR).modal_colour)
    assert heard[0.3].count("mixolydian") >= 5 and heard[0.7].count("ionian") >= 5, heard


_COLOUR_PLANS = (("C", ("piano", "pads", "bass"), -0.6), ("G", ("guitar", "bass"), 0.0), ("F", ("strings",), 0.5),
                 ("D", ("piano", "bass", "drums"), 0.7), ("E", ("harp", "cello"), -0.3), ("A", ("piano",), 0.2))
