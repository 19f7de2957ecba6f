"""Optional CLAP metric and evaluator: text–audio similarity with transformers' ``ClapModel`` loaded
from a local folder, and Fréchet Audio Distance (FAD) against a reference folder.

Nothing is downloaded: the folder must hold a saved ``ClapModel`` and ``ClapProcessor``
(``save_pretrained``), e.g. a copy of ``laion/clap-htsat-unfused`` fetched elsewhere.  Audio longer
than the model's window is centre-cropped (the processor's own truncation picks random crops,
which would make scores irreproducible).

>>> scorer = ClapScorer("models/clap")  # doctest: +SKIP
>>> scorer.similarity(audio, 32000, "slow calm piano")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.acquisition.affect import Affect
from promptloop.errors import BackendUnavailable, InputError
from promptloop.feedback.base import Evaluation, Evaluator, PlanContext
from promptloop.representation.plan import MusicPlan

__all__ = ["ClapEvaluator", "ClapMetric", "ClapScorer", "clap_unavailable", "frechet_distance"]

_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
WEIGHTS = {"clap": 0.30, "affect": 0.50, "constraints": 0.20}


def clap_unavailable(model_dir: str | os.PathLike[str] | None) -> str | None:
    """None when a CLAP model can be loaded from ``model_dir``, else the reason it cannot."""
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        return "needs transformers: pip install transformers"
    if model_dir is None:
        return "no CLAP model folder: set PROMPTLOOP_MODELS_DIR and save a ClapModel under <models_dir>/clap"
    folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        return f"{folder} holds no saved ClapModel (config.json missing)"
    return None


class ClapScorer:
    """A CLAP model and processor from a local folder, on CPU unless told otherwise."""

    def __init__(self, model_dir: str | os.PathLike[str], device: str = "cpu") -> None:
        reason = clap_unavailable(model_dir)
        if reason is not None:
            raise BackendUnavailable(reason)
        import torch
        from transformers import ClapModel, ClapProcessor

        self.model_dir = Path(model_dir)
        try:
            self.processor = ClapProcessor.from_pretrained(str(self.model_dir), local_files_only=True)
            model = ClapModel.from_pretrained(str(self.model_dir), local_files_only=True)
            self.model = model.to(device).eval()  # type: ignore[arg-type]  # transformers' .to() stub wants a model
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"cannot load CLAP from {self.model_dir}: {exc}") from exc
        self.device = device
        self._torch = torch
        fe = self.processor.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self.max_samples = int(fe.nb_max_samples)
        self._text_cache: dict[str, np.ndarray] = {}

    def _prepare(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import soxr

        y = np.asarray(audio, dtype=np.float32)
        if sample_rate != self.sample_rate:
            y = soxr.resample(y, sample_rate, self.sample_rate).astype(np.float32)
        if y.size > self.max_samples:
            start = (y.size - self.max_samples) // 2
            y = y[start : start + self.max_samples]
        return y

    def audio_embeddings(self, clips: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        """Unit-norm CLAP audio embeddings, one row per clip."""
        if not clips:
            return np.zeros((0, int(self.model.config.projection_dim)), dtype=np.float32)
        prepared = [self._prepare(c, sample_rate) for c in clips]
        inputs = self.processor.feature_extractor(prepared, sampling_rate=self.sample_rate, return_tensors="pt",
                                                  padding="repeatpad", truncation="rand_trunc")
        with self._torch.no_grad():
            out = self.model.get_audio_features(input_features=inputs["input_features"].to(self.device))
        return _pooled(out)

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm CLAP text embeddings, one row per text (cached per text)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            inputs = self.processor.tokenizer(missing, padding=True, truncation=True, return_tensors="pt")
            with self._torch.no_grad():
                out = self.model.get_text_features(**{k: v.to(self.device) for k, v in inputs.items()})
            for text, vec in zip(missing, _pooled(out), strict=True):
                self._text_cache[text] = vec
        return np.stack([self._text_cache[t] for t in texts])

    def similarity(self, audio: np.ndarray, sample_rate: int, text: str) -> float:
        """Cosine similarity in [-1, 1] between the audio and the text."""
        a = self.audio_embeddings([audio], sample_rate)[0]
        t = self.text_embeddings([text])[0]
        return float(np.dot(a, t))

    def folder_embeddings(self, folder: str | os.PathLike[str]) -> np.ndarray:
        """Embeddings of every audio file in ``folder`` (the FAD reference set)."""
        from promptloop.audio.io import load_audio

        root = Path(folder)
        if not root.is_dir():
            raise InputError(f"reference folder not found: {root}")
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in _AUDIO_SUFFIXES)
        if len(files) < 2:
            raise InputError(f"reference folder {root} needs at least two audio files for FAD")
        return np.concatenate([self.audio_embeddings([load_audio(p, self.sample_rate)], self.sample_rate)
                               for p in files])


def _pooled(output: Any) -> np.ndarray:
    """transformers 5 returns a model output whose ``pooler_output`` is the normalised projection."""
    tensor = output if hasattr(output, "detach") else output.pooler_output
    vectors = tensor.detach().cpu().numpy().astype(np.float64)
    return (vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)).astype(np.float32)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets (rows are samples).

    ``‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½)`` — the FAD of Kilgour et al. (2019) when the rows
    are audio embeddings.
    """
    from scipy import linalg

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError("frechet_distance needs two (n ≥ 2, d) arrays of the same width")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * covmean))
    return max(0.0, value)


class ClapMetric:
    """Per-segment CLAP similarity to a description of the reference affect, and per-condition FAD."""

    def __init__(self, scorer: ClapScorer, reference_dir: str | os.PathLike[str] | None = None) -> None:
        self.scorer = scorer
        self.reference = scorer.folder_embeddings(reference_dir) if reference_dir is not None else None
        self._embeddings: dict[str, list[np.ndarray]] = {}

    def segment(self, audio: np.ndarray, sample_rate: int, affect: Affect, condition: str) -> dict[str, float]:
        from promptloop.feedback.descriptors_affect import expected_caption

        emb = self.scorer.audio_embeddings([audio], sample_rate)[0]
        self._embeddings.setdefault(condition, []).append(emb)
        text = self.scorer.text_embeddings([expected_caption(affect)])[0]
        return {"clap_similarity": round(float(np.dot(emb, text)), 4)}

    def fad(self) -> dict[str, float]:
        """FAD of each condition's segments against the reference folder (empty without one)."""
        if self.reference is None:
            return {}
        return {c: round(frechet_distance(np.stack(v), self.reference), 4)
                for c, v in self._embeddings.items() if len(v) >= 2}


class ClapEvaluator(Evaluator):
    """Registered as ``clap``: the embedding evaluator's measurements, with CLAP text–audio
    similarity (audio vs the caption music at the waypoint would get) in place of MiniLM's
    caption-to-caption similarity.

    score = 0.30·clap + 0.50·affect + 0.20·constraints, clap = (cosine + 1) / 2.
    """

    name = "clap"

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, device: str = "cpu") -> None:
        reason = clap_unavailable(model_dir)
        if reason is not None:
            raise BackendUnavailable(reason)
        from promptloop.feedback.evaluators.embedding import EmbeddingEvaluator

        self.scorer = ClapScorer(model_dir, device=device)  # type: ignore[arg-type]
        self._measure = EmbeddingEvaluator(use_embeddings=False)

    def evaluate(self, audio: np.ndarray, sample_rate: int, plan: MusicPlan, context: PlanContext) -> Evaluation:
        base = self._measure.evaluate(audio, sample_rate, plan, context)
        target_caption = base.extra["target_caption"]
        clap = float(np.clip((self.scorer.similarity(audio, sample_rate, target_caption) + 1) / 2, 0.0, 1.0))
        components = {"clap": round(clap, 4), "affect": base.components["affect"],
                      "constraints": base.components["constraints"]}
        score = sum(WEIGHTS[k] * components[k] for k in WEIGHTS)
        return Evaluation(score=round(score, 4), components=components, descriptors=base.descriptors,
                          estimated=base.estimated, caption=base.caption, feedback=base.feedback,
                          violations=base.violations, extra=base.extra)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model_dir": self.scorer.model_dir.name, "device": self.scorer.device}
