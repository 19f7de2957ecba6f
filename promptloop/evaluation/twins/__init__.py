"""The digital-twin population: simulated listeners who differ, and a wearable on each.

:mod:`.traits` draws one listener's traits from a seed; :mod:`.listener` simulates them hearing
music and reports their readings.  Tuning used :data:`~.traits.TUNING_SEEDS` only; the report
evaluates on :data:`~.traits.HELD_OUT_SEEDS`.
"""

from promptloop.evaluation.twins.listener import (
           ZONE_RADIUS,
           MusicHeard,
           SimulatedListener,
           music_pull,
           sounds_in,
)
from promptloop.evaluation.twins.traits import (
           HELD_OUT_SEEDS,
           TRIGGER_CANDIDATES,
           TUNING_SEEDS,
           TwinTraits,
)

__all__ = ["HELD_OUT_SEEDS", "TRIGGER_CANDIDATES", "TUNING_SEEDS", "ZONE_RADIUS", "MusicHeard", "SimulatedListener",
           "TwinTraits", "music_pull", "sounds_in"]
