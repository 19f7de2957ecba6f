"""MusicGen weights: list what is present, pull from the Hugging Face Hub, verify a model loads and
generates, and build randomly initialised models of the real architectures (tests, benchmarks).

Weights live in a Hugging Face cache folder: ``PROMPTLOOP_MODELS_DIR`` (or ``--models-dir``) when
set, else the standard cache (``HF_HOME``).  On a machine without internet, pull elsewhere and copy
that folder over, or save a model with ``save_pretrained`` and pass the folder as ``--model``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.errors import BackendUnavailable, InputError
from promptloop.synthesis.musicgen.generator import MODEL_ALIASES, resolve_model_source

__all__ = [
    "ModelEntry",
    "RANDOM_SIZES",
    "list_models",
    "pull_model",
    "random_musicgen",
    "save_random_musicgen",
    "train_tokenizer",
    "verify_model",
]

#: Files a MusicGen repository needs for inference (weights, configs, tokenizer, feature extractor).
_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    repo_id: str
    present: bool
    location: str | None


def _cache_dir(models_dir: Path | None) -> str | None:
    return str(models_dir) if models_dir else None


def list_models(models_dir: Path | None = None) -> list[ModelEntry]:
    """The known MusicGen models and whether each is already in the cache."""
    from huggingface_hub import try_to_load_from_cache

    rows = []
    for name, repo in MODEL_ALIASES.items():
        found = try_to_load_from_cache(repo, "config.json", cache_dir=_cache_dir(models_dir))
        folder = str(Path(found).parent) if isinstance(found, str) else None
        rows.append(ModelEntry(name, repo, folder is not None, folder))
    return rows


def _repo_id(name: str) -> str:
    source = resolve_model_source(name)
    if Path(source).is_absolute():
        raise InputError(f"{name!r} is a folder; pull takes a model name ({', '.join(MODEL_ALIASES)}) or a Hub id")
    return source


def pull_model(name: str, models_dir: Path | None = None) -> Path:
    """Download ``name`` (alias or Hub id) into the cache; needs internet."""
    from huggingface_hub import snapshot_download

    repo = _repo_id(name)
    try:
        path = snapshot_download(repo, cache_dir=_cache_dir(models_dir), allow_patterns=_PATTERNS)
    except Exception as exc:  # hub errors have many types (offline, 404, gated); all mean "not here"
        raise BackendUnavailable(f"cannot download {repo}: {type(exc).__name__}; run this on a machine with "
                                 "internet and copy the models folder over") from exc
    return Path(path)


def verify_model(name: str | None, models_dir: Path | None = None, *, device: str = "auto",
                 dtype: str = "auto", seconds: float = 1.0) -> dict[str, Any]:
    """Load a model through the generator's own code path and generate ``seconds`` of audio."""
    from promptloop.representation.plan import MusicPlan
    from promptloop.synthesis.base import GenerationRequest
    from promptloop.synthesis.musicgen.generator import MusicgenGenerator

    t0 = time.perf_counter()
    gen = MusicgenGenerator(name, models_dir=models_dir, device=device, dtype=dtype)
    t1 = time.perf_counter()
    plan = MusicPlan(prompt="calm ambient piano with soft pads", tempo_bpm=70)
    audio = gen.generate([GenerationRequest(plan, seconds, seed=0)])[0]
    t2 = time.perf_counter()
    finite = bool(np.all(np.isfinite(audio)))
    return {**gen.describe(), "seconds": round(audio.size / gen.sample_rate, 3), "finite": finite,
            "rms": round(float(np.sqrt(np.mean(audio**2))), 5), "load_s": round(t1 - t0, 2),
            "generate_s": round(t2 - t1, 2), "ok": finite and audio.size > 0}


# -- randomly initialised models -----------------------------------------------------------------

#: Decoder and text-encoder sizes of the released checkpoints (and a tiny one for tests).
RANDOM_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"decoder": dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32, vocab_size=64),
             "t5": dict(d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2),
             "encodec": dict(hidden_size=16, num_filters=4, codebook_size=64, codebook_dim=16, num_lstm_layers=1,
                             target_bandwidths=[1.2])},
    "small": {"decoder": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096),
              "t5": dict(d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12, vocab_size=32128)},
    "medium": {"decoder": dict(hidden_size=1536, num_hidden_layers=48, num_attention_heads=24, ffn_dim=6144),
               "t5": dict(d_model=1024, d_kv=64, d_ff=4096, num_layers=24, num_heads=16, vocab_size=32128)},
    "large": {"decoder": dict(hidden_size=2048, num_hidden_layers=48, num_attention_heads=32, ffn_dim=8192),
              "t5": dict(d_model=1024, d_kv=64, d_ff=4096, num_layers=24, num_heads=16, vocab_size=32128)},
}
_ENCODEC_32K = dict(sampling_rate=32000, audio_channels=1, hidden_size=128, num_filters=64, upsampling_ratios=[8, 5, 4, 4],
                    codebook_size=2048, codebook_dim=128, target_bandwidths=[2.2], use_causal_conv=False,
                    normalize=False, num_lstm_layers=2, num_residual_layers=1, compress=2)
_SENTENCES = [
    "calm ambient piano with soft pads", "slow strings in a minor key at 60 bpm", "gentle rain and a wooden flute",
    "warm acoustic guitar, relaxed and bright", "bells, birdsong and a quiet drone", "uplifting major melody",
    "lofi beat with muted drums", "dark cello and low brass", "a lullaby on a music box", "ocean waves, harp",
]


def train_tokenizer(vocab_size: int = 60) -> Any:
    """A T5 tokenizer (SentencePiece Unigram) trained here on a few music captions: no download."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import T5TokenizerFast  # type: ignore[attr-defined]  # lazily exported; stubs miss it

    spm = SentencePieceUnigramTokenizer()
    spm.train_from_iterator(_SENTENCES * 3, vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                            unk_token="<unk>", show_progress=False)
    return T5TokenizerFast(tokenizer_object=spm, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0)


def random_musicgen(size: str = "tiny", *, seed: int = 0, device: Any = None) -> tuple[Any, Any]:
    """A randomly initialised ``(MusicgenForConditionalGeneration, MusicgenProcessor)`` of ``size``.

    ``small``/``medium``/``large`` have the released decoder, T5 and 32 kHz EnCodec shapes (right for
    speed, silent nonsense for music); ``tiny`` has 4 codebooks of 64 codes and runs in milliseconds.
    ``device`` builds the weights there directly (initialising ``large`` on a CPU takes minutes).
    """
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    if size not in RANDOM_SIZES:
        raise InputError(f"size must be one of {', '.join(RANDOM_SIZES)}, got {size!r}")
    spec = RANDOM_SIZES[size]
    tokenizer = train_tokenizer()
    t5 = T5Config(**{"vocab_size": len(tokenizer), **spec["t5"], "pad_token_id": 0, "eos_token_id": 1,
                     "decoder_start_token_id": 0})
    encodec = EncodecConfig(**{**_ENCODEC_32K, **spec.get("encodec", {})})
    codes = int(encodec.codebook_size)
    decoder = MusicgenDecoderConfig(**{"vocab_size": codes, **spec["decoder"]}, num_codebooks=4,
                                    pad_token_id=codes, bos_token_id=codes, max_position_embeddings=2048)
    config = MusicgenConfig(text_encoder=t5, audio_encoder=encodec, decoder=decoder)
    torch.manual_seed(seed)
    with torch.device(device or "cpu"):
        model = MusicgenForConditionalGeneration(config).eval()
    with torch.no_grad():  # EnCodec initialises its codebooks to zeros: every code would decode alike
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
    gen_cfg = model.generation_config
    gen_cfg.decoder_start_token_id = codes
    gen_cfg.pad_token_id = codes
    gen_cfg.bos_token_id = codes
    gen_cfg.do_sample, gen_cfg.guidance_scale, gen_cfg.max_length = True, 3.0, 1600
    extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=int(encodec.sampling_rate), padding_value=0.0)
    return model, MusicgenProcessor(feature_extractor=extractor, tokenizer=tokenizer)


def save_random_musicgen(folder: Path, size: str = "tiny", *, seed: int = 0) -> Path:
    """Save a random model + processor with ``save_pretrained`` (loadable as ``--model folder``)."""
    model, processor = random_musicgen(size, seed=seed)
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# -- CLI glue (`promptloop models ...`) -------------------------------------------------------------


def _models_dir(models_dir: Path | None, settings: Any | None = None) -> Path | None:
    """The ``--models-dir`` given, else the settings' (read here unless the command already has them)."""
    if models_dir is not None:
        return models_dir
    from promptloop.wiring.settings import Settings

    return (settings or Settings()).models_dir


def print_models(models_dir: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    folder = _models_dir(models_dir)
    table = Table(title=f"MusicGen models ({folder or 'Hugging Face cache'})")
    for column in ("name", "hub id", "present", "location"):
        table.add_column(column, overflow="fold")
    for row in list_models(folder):
        table.add_row(row.name, row.repo_id, "yes" if row.present else "no", row.location or "")
    Console().print(table)


def pull_command(name: str, models_dir: Path | None) -> None:
    path = pull_model(name, _models_dir(models_dir))
    print(f"pulled {name} into {path}")


def verify_command(name: str | None, models_dir: Path | None, device: str | None) -> None:
    import json

    from promptloop.errors import GenerationError
    from promptloop.wiring.settings import Settings

    settings = Settings()
    report = verify_model(name or settings.musicgen_model, _models_dir(models_dir, settings),
                          device=device or settings.device, dtype=settings.dtype)
    print(json.dumps(report, indent=2, default=str))
    if not report["ok"]:
        raise GenerationError(f"{report['model']} loaded but produced unusable audio")
