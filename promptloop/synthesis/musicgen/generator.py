"""The ``musicgen`` generator: a pretrained MusicGen (Hugging Face transformers) that continues the
prior audio from each new text prompt.

How one batch is made (see ``docs/musicgen.md``):

* **Continuation.** The tail of the prior audio (already at the model's rate: the loop asks for
  audio at :attr:`MusicgenGenerator.sample_rate`) is EnCodec-encoded and placed before the decoder's
  first step; the model's output then starts with that prompt, which is cut off so that only new
  audio is returned.  MusicGen-Melody models take the tail as a melody (chroma) condition instead.
* **The 30 s window.** Prompt + new audio never exceed :data:`WINDOW_SECONDS`: the prompt is
  shortened when the new part is long, and a request longer than the window is made in several
  windows, each continuing the last.
* **Seams.** The last ``seam_seconds`` of the prior are left out of the prompt, so the first
  ``seam_seconds`` of new audio re-play that stretch; the loop's equal-power crossfade of the same
  length then blends two renderings of the same moment instead of two different moments.
* **Noisy last frames.** EnCodec decodes the final frames without right context and they often
  click; ``trim_seconds`` extra audio is generated and dropped.
* **Batching.** All requests (K candidates, and segments of several sessions) go through one
  ``generate`` call per window; requests with and without prior audio form two groups.
* **Seeds.** One call is seeded from all its requests' seeds, so the same batch gives the same audio.

Decoding goes through :meth:`MusicgenGenerator.decode`, which dispatches on ``decode`` to a
strategy registered with :func:`register_decode_strategy` (``"stock"`` is ``model.generate``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.errors import BackendUnavailable, GenerationError, InputError
from promptloop.synthesis.base import GenerationRequest, Generator

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_ALIASES",
    "WINDOW_SECONDS",
    "DecodeBatch",
    "LoadedMusicgen",
    "MusicgenGenerator",
    "SamplingParams",
    "clear_model_cache",
    "load_musicgen",
    "register_decode_strategy",
    "resolve_device",
    "resolve_model_source",
    "wrap_loaded",
]

DEFAULT_MODEL = "facebook/musicgen-small"
MODEL_ALIASES: dict[str, str] = {
    "small": "facebook/musicgen-small",
    "medium": "facebook/musicgen-medium",
    "large": "facebook/musicgen-large",
    "melody": "facebook/musicgen-melody",
    "melody-large": "facebook/musicgen-melody-large",
}
#: MusicGen was trained on 30 s clips: prompt + new audio stay within this.
WINDOW_SECONDS = 30.0
_DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class SamplingParams:
    """Generation parameters, validated on construction (bad values are an :class:`InputError`)."""

    guidance_scale: float = 3.0
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            (isinstance(self.guidance_scale, (int, float)) and math.isfinite(self.guidance_scale)
             and 1.0 <= self.guidance_scale <= 20.0, "guidance_scale must be within [1, 20]"),
            (isinstance(self.top_k, int) and not isinstance(self.top_k, bool) and 0 <= self.top_k <= 4096,
             "top_k must be an integer within [0, 4096] (0 turns it off)"),
            (isinstance(self.top_p, (int, float)) and 0.0 <= self.top_p <= 1.0,
             "top_p must be within [0, 1] (0 turns it off)"),
            (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
             and 0.05 <= self.temperature <= 5.0, "temperature must be within [0.05, 5]"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"do_sample": True, "guidance_scale": float(self.guidance_scale),
                                  "temperature": float(self.temperature), "top_k": int(self.top_k)}
        if 0.0 < self.top_p < 1.0:
            kwargs["top_p"] = float(self.top_p)
        return kwargs


# -- loading -----------------------------------------------------------------------------------


@dataclass
class LoadedMusicgen:
    """A model with its processor and the numbers the generator needs; shared per process."""

    model: Any
    processor: Any
    source: str
    melody: bool
    device: Any
    dtype: Any
    sample_rate: int
    hop_length: int
    num_codebooks: int
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


_CACHE: dict[tuple[str, str, str], LoadedMusicgen] = {}
_CACHE_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget every loaded model (tests; freeing memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def resolve_model_source(model: str | Path | None) -> str:
    """A local folder (as an absolute path) or a Hugging Face id; short names map to facebook/ ids."""
    if model is None or str(model).strip() == "":
        return DEFAULT_MODEL
    text = str(model).strip()
    if text in MODEL_ALIASES:
        return MODEL_ALIASES[text]
    path = Path(text).expanduser()
    if path.exists() or text.startswith((".", "/", "~")):
        return str(path.resolve())
    return text


def resolve_device(device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """``auto``: CUDA with bf16 (fp16 where bf16 is not supported) when present, else CPU fp32."""
    import torch

    if dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise InputError(f"unknown device {device!r}") from exc
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    if dtype == "auto":
        if dev.type == "cuda":
            chosen = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            chosen = torch.float32
    else:
        chosen = getattr(torch, dtype)
    return dev, chosen


def _missing_weights(source: str, models_dir: Path | None, exc: Exception) -> BackendUnavailable:
    if Path(source).is_absolute():
        where = f"no MusicGen model in {source} ({type(exc).__name__})"
    else:
        short = next((k for k, v in MODEL_ALIASES.items() if v == source), source)
        place = f"in {models_dir}" if models_dir else "in the Hugging Face cache"
        where = (f"MusicGen weights {source!r} are not {place} and cannot be downloaded here; "
                 f"on a machine with internet run `promptloop models pull {short}` (then copy the models "
                 f"folder here and set PROMPTLOOP_MODELS_DIR)")
    return BackendUnavailable(f"{where}, or pass --model /path/to/a/saved/model; "
                              "to run without MusicGen use --generator synth")


def load_musicgen(
    model: str | Path | None = None,
    *,
    models_dir: Path | None = None,
    device: str = "auto",
    dtype: str = "auto",
    allow_download: bool = False,
) -> LoadedMusicgen:
    """Load (once per process) a MusicGen or MusicGen-Melody model and its processor.

    ``model`` is a local folder saved with ``save_pretrained``, a Hugging Face id, or one of
    :data:`MODEL_ALIASES`; ids are looked up in ``models_dir`` (a Hugging Face cache folder, default
    the standard cache) without touching the network unless ``allow_download``.
    """
    from transformers import AutoConfig

    source = resolve_model_source(model)
    dev, dt = resolve_device(device, dtype)
    key = (f"{source}|{models_dir}", str(dev), str(dt))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        hub: dict[str, Any] = {}
        if not Path(source).is_absolute():
            hub = {"cache_dir": str(models_dir) if models_dir else None, "local_files_only": not allow_download}
        try:
            config = AutoConfig.from_pretrained(source, **hub)
        except (OSError, ValueError) as exc:
            raise _missing_weights(source, models_dir, exc) from exc
        melody = config.model_type == "musicgen_melody"
        if config.model_type not in ("musicgen", "musicgen_melody"):
            raise InputError(f"{source} is a {config.model_type!r} model, not MusicGen")
        if melody:
            from transformers import MusicgenMelodyForConditionalGeneration as model_cls
            from transformers import MusicgenMelodyProcessor as processor_cls
        else:
            from transformers import MusicgenForConditionalGeneration as model_cls  # type: ignore[assignment]
            from transformers import MusicgenProcessor as processor_cls  # type: ignore[assignment]
        try:
            net = model_cls.from_pretrained(source, dtype=dt, **hub)
            processor = processor_cls.from_pretrained(source, **hub)
        except ImportError as exc:  # MusicGen-Melody's chroma extractor needs torchaudio
            detail = " ".join(str(exc).split())
            raise BackendUnavailable(f"{source} needs a library that is missing here: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise _missing_weights(source, models_dir, exc) from exc
        loaded = wrap_loaded(net, processor, source, device=dev, dtype=dt)
        _CACHE[key] = loaded
        return loaded


def wrap_loaded(net: Any, processor: Any, source: str, *, device: Any, dtype: Any) -> LoadedMusicgen:
    """Put an in-memory model on ``device``/``dtype`` and describe it (used by the loader and benchmarks)."""
    net = net.to(device=device, dtype=dtype).eval()
    audio_cfg = net.config.audio_encoder
    return LoadedMusicgen(
        model=net,
        processor=processor,
        source=source,
        melody=net.config.model_type == "musicgen_melody",
        device=device,
        dtype=dtype,
        sample_rate=int(audio_cfg.sampling_rate),
        hop_length=int(np.prod(audio_cfg.upsampling_ratios)),
        num_codebooks=int(net.config.decoder.num_codebooks),
    )


# -- decoding strategies -------------------------------------------------------------------------


@dataclass
class DecodeBatch:
    """Everything one ``generate`` call needs: model inputs (on the model's device) and lengths."""

    inputs: dict[str, Any]
    max_new_tokens: int
    sampling: SamplingParams
    seed: int
    prompt_frames: int  # frames of audio prompt at the start of the output (0 for melody/none)
    new_frames: int


DecodeStrategy = Callable[[LoadedMusicgen, DecodeBatch], Any]
_STRATEGIES: dict[str, DecodeStrategy] = {}


def register_decode_strategy(name: str, strategy: DecodeStrategy) -> None:
    """Make ``decode=name`` available; ``strategy(loaded, batch)`` returns audio ``(B, C, T)``."""
    _STRATEGIES[name] = strategy


def _stock_decode(loaded: LoadedMusicgen, batch: DecodeBatch) -> Any:
    """transformers' own ``generate`` (KV cache, classifier-free guidance, delay pattern)."""
    import torch

    with torch.inference_mode():
        return loaded.model.generate(**batch.inputs, max_new_tokens=batch.max_new_tokens,
                                     **batch.sampling.generate_kwargs())


register_decode_strategy("stock", _stock_decode)


def _fast_decode(loaded: LoadedMusicgen, batch: DecodeBatch) -> Any:
    """Static cache, on-device guidance/sampling, CUDA-graph step (``musicgen_fast``)."""
    from promptloop.synthesis.musicgen.fast import decode_strategy

    return decode_strategy(loaded, batch)


def _auto_decode(loaded: LoadedMusicgen, batch: DecodeBatch) -> Any:
    """``fast`` on CUDA (not for Melody models), ``stock`` elsewhere."""
    use_fast = loaded.device.type == "cuda" and not loaded.melody
    return (_fast_decode if use_fast else _stock_decode)(loaded, batch)


register_decode_strategy("fast", _fast_decode)
register_decode_strategy("auto", _auto_decode)


# -- the generator -------------------------------------------------------------------------------


class MusicgenGenerator(Generator):
    """MusicGen through transformers; one ``generate`` call per batch of requests and window.

    >>> gen = MusicgenGenerator("/path/to/saved-musicgen")            # doctest: +SKIP
    >>> audio = gen.generate([GenerationRequest(plan, 8.0, seed=1, prior=tail)])  # doctest: +SKIP
    """

    name = "musicgen"
    batches_across_sessions = True  # one batched decode serves every request of a call
    #: prompt + new audio per ``generate`` call never exceed this many seconds
    window_seconds: float = WINDOW_SECONDS

    def __init__(
        self,
        model: str | Path | LoadedMusicgen | None = None,
        *,
        models_dir: Path | str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        guidance_scale: float = 3.0,
        top_k: int = 250,
        top_p: float = 0.0,
        temperature: float = 1.0,
        prompt_seconds: float = 5.0,
        seam_seconds: float = 1.0,
        trim_seconds: float = 0.1,
        decode: str = "auto",
        allow_download: bool = False,
    ) -> None:
        self.sampling = SamplingParams(guidance_scale, top_k, top_p, temperature)
        for label, value, high in (("prompt_seconds", prompt_seconds, WINDOW_SECONDS - 1.0),
                                   ("seam_seconds", seam_seconds, 4.0), ("trim_seconds", trim_seconds, 1.0)):
            if not isinstance(value, (int, float)) or not 0.0 <= value <= high:
                raise InputError(f"{label} must be within [0, {high}], got {value!r}")
        if decode not in _STRATEGIES:
            raise InputError(f"unknown decode strategy {decode!r}; choose from: {', '.join(sorted(_STRATEGIES))}")
        self.decode_strategy = decode
        self.prompt_seconds = float(prompt_seconds)
        self.seam_seconds = float(seam_seconds)
        self.trim_seconds = float(trim_seconds)
        if isinstance(model, LoadedMusicgen):  # already loaded (benchmarks, random weights)
            self.loaded = model
        else:
            self.loaded = load_musicgen(model, models_dir=Path(models_dir) if models_dir else None,
                                        device=device, dtype=dtype, allow_download=allow_download)
        self.sample_rate = self.loaded.sample_rate
        self.prior_seconds = self.prompt_seconds + self.seam_seconds

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> MusicgenGenerator:
        """Fill what ``options`` leaves out from a :class:`~promptloop.wiring.settings.Settings`."""
        options.setdefault("model", settings.musicgen_model)
        options.setdefault("models_dir", settings.models_dir)
        options.setdefault("device", settings.device)
        options.setdefault("dtype", settings.dtype)
        # the loop crossfades this long; re-playing the same stretch makes the seam a blend of one moment
        options.setdefault("seam_seconds", settings.crossfade_seconds)
        return cls(**options)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sample_rate": self.sample_rate,
            "model": self.loaded.source,
            "melody": self.loaded.melody,
            "device": str(self.loaded.device),
            "dtype": str(self.loaded.dtype).removeprefix("torch."),
            "decode": self.decode_strategy,
            "guidance_scale": self.sampling.guidance_scale,
            "top_k": self.sampling.top_k,
            "top_p": self.sampling.top_p,
            "temperature": self.sampling.temperature,
            "prompt_seconds": self.prompt_seconds,
            "seam_seconds": self.seam_seconds,
            "trim_seconds": self.trim_seconds,
        }

    # -- the seam for other decoders --------------------------------------------------------------
    def decode(self, batch: DecodeBatch) -> Any:
        """Run one batched generation; returns audio ``(B, C, T)`` (a torch tensor or array)."""
        import torch

        strategy = _STRATEGIES[self.decode_strategy]
        devices = [self.loaded.device] if self.loaded.device.type == "cuda" else []
        with self.loaded.lock, torch.random.fork_rng(devices=devices):
            torch.manual_seed(batch.seed)
            return strategy(self.loaded, batch)

    # -- Generator ----------------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        for r in requests:
            if not (isinstance(r.duration_s, (int, float)) and math.isfinite(r.duration_s) and 0 < r.duration_s <= 600):
                raise InputError(f"duration must be within (0, 600] seconds, got {r.duration_s!r}")
        out: list[np.ndarray | None] = [None] * len(requests)
        groups: dict[bool, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(self._history(r).size >= self.loaded.hop_length, []).append(i)
        for indices in groups.values():
            for i, audio in zip(indices, self._generate_group([requests[i] for i in indices]), strict=True):
                out[i] = audio
        return [a for a in out if a is not None]

    def _history(self, request: GenerationRequest) -> np.ndarray:
        """The prior minus the seam stretch (which the new audio re-plays for the crossfade)."""
        if request.prior is None:
            return np.zeros(0, dtype=np.float32)
        prior = np.asarray(request.prior, dtype=np.float32)
        if prior.ndim != 1 or not np.all(np.isfinite(prior)):
            raise InputError("prior audio must be a finite mono array")
        seam = int(round(self.seam_seconds * self.sample_rate))
        return prior[:-seam] if 0 < seam < prior.size else prior

    def window_plan(self, want_frames: int, available_frames: int) -> tuple[int, int]:
        """(prompt frames, new frames) for the next window: prompt + new ≤ the 30 s window.

        The prompt is shortened when the new part is long; when the new part alone exceeds the
        window, this window makes ``window - prompt`` frames and the caller continues.
        """
        fr = self.loaded.frame_rate
        window = int(self.window_seconds * fr)
        full = min(int(round(self.prompt_seconds * fr)), available_frames, window // 2)
        if want_frames + full <= window:
            return full, want_frames
        if want_frames <= window:
            return window - want_frames, want_frames
        return full, window - full

    def _generate_group(self, requests: Sequence[GenerationRequest]) -> list[np.ndarray]:
        loaded = self.loaded
        hop, sr = loaded.hop_length, self.sample_rate
        lengths = [int(round(r.duration_s * sr)) for r in requests]
        trim_frames = int(math.ceil(self.trim_seconds * loaded.frame_rate))
        want = int(math.ceil(max(lengths) / hop))
        histories = [self._history(r) for r in requests]
        made = [np.zeros(0, dtype=np.float32) for _ in requests]
        texts = [r.plan.prompt for r in requests]
        base_seed = [int(r.seed) % 2**32 for r in requests]
        window_index = 0
        while made[0].size < want * hop:
            remaining = want - made[0].size // hop
            available = min(h.size for h in histories) // hop
            prompt, new = self.window_plan(remaining + trim_frames, available)
            tails = [h[h.size - prompt * hop:] for h in histories] if prompt else None
            seed = int(np.random.SeedSequence([*base_seed, window_index]).generate_state(1)[0])
            audio = self._call(texts, tails, prompt, new, seed)
            keep = min(remaining, new - trim_frames)  # every window's last frames are noisy
            for i in range(len(requests)):
                piece = audio[i, : keep * hop]
                made[i] = np.concatenate([made[i], piece])
                histories[i] = np.concatenate([histories[i], piece])
            window_index += 1
        return [m[:n].astype(np.float32) for m, n in zip(made, lengths, strict=True)]

    def _call(self, texts: list[str], tails: list[np.ndarray] | None, prompt_frames: int,
              new_frames: int, seed: int) -> np.ndarray:
        """One batched ``generate``; returns the new audio only, mono, ``(B, new_frames * hop)``."""
        import torch

        loaded = self.loaded
        proc = loaded.processor
        inputs: dict[str, Any] = dict(proc.tokenizer(texts, padding=True, return_tensors="pt"))
        prefix = 0
        if tails is not None and loaded.melody:
            # MusicGen-Melody conditions on the prior's chroma instead of continuing its codes.
            feats = proc.feature_extractor(tails, sampling_rate=self.sample_rate, return_tensors="pt")
            inputs["input_features"] = feats["input_features"]
        elif tails is not None:
            feats = proc.feature_extractor(tails, sampling_rate=self.sample_rate, return_tensors="pt")
            inputs["input_values"] = feats["input_values"]
            inputs["padding_mask"] = feats["padding_mask"]
            prefix = prompt_frames
        for k, v in inputs.items():
            if torch.is_floating_point(v):
                inputs[k] = v.to(loaded.device, loaded.dtype)
            else:
                inputs[k] = v.to(loaded.device)
        batch = DecodeBatch(inputs=inputs, max_new_tokens=new_frames + loaded.num_codebooks - 1,
                            sampling=self.sampling, seed=seed, prompt_frames=prefix, new_frames=new_frames)
        values = self.decode(batch)
        if isinstance(values, torch.Tensor):
            values = values.detach().to("cpu", torch.float32).numpy()
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 3 or values.shape[0] != len(texts):
            raise GenerationError(f"decoder returned audio of shape {values.shape} for {len(texts)} requests")
        mono = values.mean(axis=1)
        hop = loaded.hop_length
        new = mono[:, prefix * hop : (prefix + new_frames) * hop]
        if new.shape[1] < new_frames * hop:
            raise GenerationError(f"decoder returned {new.shape[1]} new samples, expected {new_frames * hop}")
        if not np.all(np.isfinite(new)):
            raise GenerationError("MusicGen produced NaN or infinite samples (try --dtype float32)")
        return new
