"""Benchmark: MusicGen stock ``generate`` against the fast decode path, in one process, same model.

Builds a randomly initialised MusicGen of the real architecture (``small``: 24 layers × 1024,
``medium``: 48 × 1536; T5-base text encoder, 32 kHz EnCodec; ``tiny`` for smoke runs), then for
each batch size times both paths on the same inputs (text-conditioned, guidance scale 3, top-k 250
sampling, audio decoded by EnCodec in both) and prints decode steps per second, the real-time
factor (50 steps = 1 s of audio; per stream and summed over the batch) and the fast/stock ratio.
A greedy parity check (same tokens from both paths) runs first for each size.

    .venv/bin/python eval/bench_musicgen_fast.py --sizes small medium --batches 1 8 32 --tokens 500
    .venv/bin/python eval/bench_musicgen_fast.py --tiny            # CPU smoke run

Targets (issue 7, H100): small at batch 1 ≥ 500 steps/s (10× real time); batch 32 ≥ 150× real
time summed over the batch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

FRAME_RATE = 50.0  # MusicGen's EnCodec: 32 kHz / hop 640

SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 128},
    "small": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "ffn_dim": 4096},
    "medium": {"hidden_size": 1536, "num_hidden_layers": 48, "num_attention_heads": 24, "ffn_dim": 6144},
}


def build_model(size: str, device: torch.device, dtype: torch.dtype) -> Any:
    """A MusicGen with random weights: real shapes for small/medium, a toy for tiny."""
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    tiny = size == "tiny"
    text = (T5Config(vocab_size=128, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4)
            if tiny else T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12))
    codec = EncodecConfig(
        sampling_rate=32000, target_bandwidths=[2.2], codebook_size=2048, upsampling_ratios=[8, 5, 4, 4],
        hidden_size=32 if tiny else 128, num_filters=8 if tiny else 64, num_lstm_layers=1 if tiny else 2,
        use_causal_conv=False, use_conv_shortcut=False, normalize=False,
    )
    decoder = MusicgenDecoderConfig(vocab_size=2048, num_codebooks=4, max_position_embeddings=2048,
                                    pad_token_id=2048, bos_token_id=2048, decoder_start_token_id=2048, **SIZES[size])
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder))
    for name in ("pad_token_id", "decoder_start_token_id", "bos_token_id"):
        setattr(model.generation_config, name, 2048)
    return model.to(device=device, dtype=dtype).eval()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def text_inputs(model: Any, batch: int, device: torch.device) -> dict[str, torch.Tensor]:
    vocab = model.config.text_encoder.vocab_size
    g = torch.Generator().manual_seed(batch)
    ids = torch.randint(3, vocab, (batch, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1::2, 9:] = 0  # some prompts shorter than others, as with real padding
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def parity(model: Any, device: torch.device, tokens: int) -> tuple[float, int]:
    """Greedy tokens of both paths at batch 2 with guidance: (fraction equal, first differing frame)."""
    from promptloop.synthesis.musicgen.fast import fast_generate

    inputs = text_inputs(model, 2, device)
    stock = model.generate(**inputs, max_new_tokens=tokens, do_sample=False, guidance_scale=3.0,
                           return_dict_in_generate=True, output_scores=True)
    chosen = torch.stack([s.argmax(-1) for s in stock.scores], dim=-1)
    start = model.generation_config.decoder_start_token_id
    prefix = torch.full((chosen.shape[0], 1), start, device=device)
    ids = torch.cat([prefix, chosen], dim=-1)
    _, pattern = model.decoder.build_delay_pattern_mask(prefix, start, ids.shape[-1])
    ids = model.decoder.apply_delay_pattern_mask(ids, pattern)
    stock_codes = ids[ids != start].reshape(2, model.decoder.num_codebooks, -1)
    fast = fast_generate(model, **inputs, max_new_tokens=tokens, do_sample=False, guidance_scale=3.0,
                         decode_audio=False).audio_codes
    same = (stock_codes == fast).all(dim=1).all(dim=0)  # per frame
    first = int((~same).nonzero()[0]) if not bool(same.all()) else -1
    return float(same.float().mean()), first


def time_path(run: Any, device: torch.device, repeats: int) -> float:
    run()  # warm-up (and CUDA graph capture for the fast path)
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["small", "medium"], choices=list(SIZES))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--tokens", type=int, default=500, help="new tokens per call (50 = 1 s of audio)")
    parser.add_argument("--parity-tokens", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny model, few tokens")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.tiny:
        args.sizes, args.tokens, args.parity_tokens = ["tiny"], min(args.tokens, 50), min(args.parity_tokens, 50)

    from promptloop.synthesis.musicgen.fast import fast_generate

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    dtype = getattr(torch, args.dtype) if args.dtype != "auto" else (torch.float16 if device.type == "cuda" else torch.float32)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads, {os.cpu_count()} cores)"
    print(f"device: {name}; torch {torch.__version__}; dtype {str(dtype).removeprefix('torch.')}; "
          f"{args.tokens} new tokens per call; guidance 3, top-k 250 sampling")
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        t = time.perf_counter()
        model = build_model(size, device, dtype)
        print(f"\n[{size}] built in {time.perf_counter() - t:.1f} s; decoder "
              f"{sum(p.numel() for p in model.decoder.parameters()) / 1e6:.0f} M parameters")
        with torch.inference_mode():
            frac, first = parity(model, device, args.parity_tokens)
        print(f"[{size}] greedy parity over {args.parity_tokens} tokens at batch 2: "
              f"{100 * frac:.1f}% of frames equal" + ("" if first < 0 else f", first difference at frame {first}"))
        print(f"{'batch':>5} {'path':>5} {'wall s':>8} {'steps/s':>9} {'x RT/stream':>11} {'x RT total':>10} {'speed-up':>8}")
        for batch in args.batches:
            inputs = text_inputs(model, batch, device)
            options = {"max_new_tokens": args.tokens, "guidance_scale": 3.0, "do_sample": True, "top_k": 250}

            def stock(model: Any = model, inputs: Any = inputs, options: Any = options) -> Any:
                return model.generate(**inputs, **options)

            def fast(model: Any = model, inputs: Any = inputs, options: Any = options) -> Any:
                return fast_generate(model, **inputs, generator=torch.Generator().manual_seed(0), **options)

            with torch.inference_mode():
                walls = {"stock": time_path(stock, device, args.repeats), "fast": time_path(fast, device, args.repeats)}
            for path, wall in walls.items():
                steps = args.tokens / wall
                row = {"size": size, "batch": batch, "path": path, "wall_s": wall, "steps_per_s": steps,
                       "rt_per_stream": steps / FRAME_RATE, "rt_total": batch * steps / FRAME_RATE,
                       "speedup": walls["stock"] / wall, "device": name, "dtype": str(dtype), "tokens": args.tokens,
                       "parity_equal_frac": frac}
                rows.append(row)
                print(f"{batch:>5} {path:>5} {wall:>8.2f} {steps:>9.1f} {row['rt_per_stream']:>11.2f} "
                      f"{row['rt_total']:>10.2f} {row['speedup']:>7.2f}x")
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
