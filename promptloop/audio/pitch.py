"""Pitch-class names, shared by the plan (a key to write) and the analysis (a key measured)."""

__all__ = ["KEYS"]

KEYS: tuple[str, ...] = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
