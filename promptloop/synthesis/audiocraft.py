"""The ``audiocraft`` generator: a thin adapter over audiocraft's public ``MusicGen`` API.

Only importable where audiocraft is installed (``pip install 'promptloop[audiocraft]'``); the
registry's check says why it is unavailable otherwise.  audiocraft handles the 30 s window itself
(``extend_stride``); its ``generate_continuation`` returns the prompt followed by the new audio, so
the prompt part is cut off here, like the transformers backend does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from audiocraft.models import MusicGen

from promptloop.errors import BackendUnavailable, GenerationError, InputError
from promptloop.synthesis.base import GenerationRequest, Generator
from promptloop.synthesis.musicgen.generator import (
    MODEL_ALIASES,
    SamplingParams,
    resolve_device,
)

__all__ = ["AudiocraftGenerator"]

_MODELS: dict[tuple[str, str], Any] = {}


class AudiocraftGenerator(Generator):
    """MusicGen through audiocraft; one ``generate_continuation`` call per batch."""

    name = "audiocraft"

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        guidance_scale: float = 3.0,
        top_k: int = 250,
        top_p: float = 0.0,
        temperature: float = 1.0,
        prompt_seconds: float = 5.0,
        seam_seconds: float = 1.0,
        **_ignored: Any,
    ) -> None:
        self.sampling = SamplingParams(guidance_scale, top_k, top_p, temperature)
        self.model_name = MODEL_ALIASES.get(model or "small", model or "small")
        dev, _ = resolve_device(device, "auto")
        key = (self.model_name, str(dev))
        if key not in _MODELS:
            try:
                _MODELS[key] = MusicGen.get_pretrained(self.model_name, device=str(dev))
            except Exception as exc:  # audiocraft raises hub/IO errors of many types
                raise BackendUnavailable(
                    f"audiocraft could not load {self.model_name!r} ({type(exc).__name__}); on a machine with "
                    "internet run it once to fill the cache, or use --generator synth") from exc
        self.model = _MODELS[key]
        self.device = dev
        self.sample_rate = int(self.model.sample_rate)
        self.prompt_seconds = float(prompt_seconds)
        self.seam_seconds = float(seam_seconds)
        self.prior_seconds = self.prompt_seconds + self.seam_seconds

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> AudiocraftGenerator:
        options.setdefault("model", settings.musicgen_model)
        options.setdefault("device", settings.device)
        options.setdefault("seam_seconds", settings.crossfade_seconds)
        return cls(**options)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "model": self.model_name,
                "device": str(self.device), **self.sampling.__dict__}

    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        if not requests:
            return []
        durations = [r.duration_s for r in requests]
        if not all(isinstance(d, (int, float)) and math.isfinite(d) and 0 < d <= 600 for d in durations):
            raise InputError("durations must be within (0, 600] seconds")
        seam = int(round(self.seam_seconds * self.sample_rate))
        keep = int(round(self.prompt_seconds * self.sample_rate))
        tails = []
        for r in requests:
            prior = np.zeros(0, np.float32) if r.prior is None else np.asarray(r.prior, np.float32)
            prior = prior[:-seam] if 0 < seam < prior.size else prior
            tails.append(prior[-keep:] if keep else prior[:0])
        prompt_len = min(t.size for t in tails)
        texts = [r.plan.prompt for r in requests]
        seed = int(np.random.SeedSequence([int(r.seed) % 2**32 for r in requests]).generate_state(1)[0])
        torch.manual_seed(seed)
        s = self.sampling
        self.model.set_generation_params(use_sampling=True, top_k=s.top_k, top_p=s.top_p, temperature=s.temperature,
                                         cfg_coef=s.guidance_scale, duration=prompt_len / self.sample_rate + max(durations))
        if prompt_len:
            prompt = torch.from_numpy(np.stack([t[t.size - prompt_len:] for t in tails]))[:, None, :]
            wav = self.model.generate_continuation(prompt.to(self.device), self.sample_rate, texts)
        else:
            wav = self.model.generate(texts)
        audio = wav.detach().to("cpu", torch.float32).numpy().mean(axis=1)[:, prompt_len:]
        out = []
        for row, d in zip(audio, durations, strict=True):
            n = int(round(d * self.sample_rate))
            if row.size < n * 0.95 or not np.all(np.isfinite(row)):
                raise GenerationError("audiocraft returned too little audio or NaN samples")
            out.append(row[:n].astype(np.float32))
        return out
