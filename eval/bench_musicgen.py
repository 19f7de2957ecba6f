"""Decode speed of the ``musicgen`` generator: decode steps per second and real-time factor.

Builds a randomly initialised MusicGen of the released architecture (``--size small|medium|large``;
random weights decode exactly as fast as trained ones) or a tiny one (``--size tiny``), or loads real
weights (``--model PATH_OR_ID``), and times batched generation through
:class:`~promptloop.synthesis.musicgen.generator.MusicgenGenerator`, so the numbers include what a session
pays: tokenising, EnCodec-encoding the audio prompt, the decode loop, EnCodec decoding.

    python eval/bench_musicgen.py --size small --batch 2 --seconds 2 --threads 2      # CPU, here
    python eval/bench_musicgen.py --size large --batch 8 --seconds 10                 # on a GPU

Reported per run: decode steps/s (one step = one frame for every sequence in the batch, CFG
included), the real-time factor RTF = wall seconds / seconds of audio per request (below 1 is
faster than real time), and throughput = seconds of audio made per wall second over the batch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch

from promptloop.cli.models import RANDOM_SIZES, random_musicgen
from promptloop.representation.plan import MusicPlan
from promptloop.synthesis.base import GenerationRequest
from promptloop.synthesis.musicgen.generator import (
    DecodeBatch,
    MusicgenGenerator,
    resolve_device,
    wrap_loaded,
)


class TimedGenerator(MusicgenGenerator):
    """Times each decode call (the device is synchronised so GPU work is counted)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decodes: list[tuple[int, float]] = []

    def decode(self, batch: DecodeBatch) -> Any:
        sync = torch.cuda.synchronize if self.loaded.device.type == "cuda" else (lambda: None)
        sync()
        t0 = time.perf_counter()
        out = super().decode(batch)
        sync()
        self.decodes.append((batch.max_new_tokens, time.perf_counter() - t0))
        return out


def _requests(batch: int, seconds: float, prompt_seconds: float, sample_rate: int) -> list[GenerationRequest]:
    plan = MusicPlan(prompt="calm ambient piano with soft pads and gentle rain", tempo_bpm=70)
    prior = None
    if prompt_seconds > 0:
        t = np.arange(int((prompt_seconds + 1.0) * sample_rate)) / sample_rate  # +1 s: the seam stretch
        prior = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2).astype(np.float32)
    return [GenerationRequest(plan, seconds, seed=i, prior=prior) for i in range(batch)]


def build(args: argparse.Namespace) -> tuple[TimedGenerator, str, float]:
    """The generator under test (built once for every batch size)."""
    options = dict(decode=args.decode, prompt_seconds=args.prompt_seconds,
                   seam_seconds=1.0 if args.prompt_seconds else 0.0, guidance_scale=args.guidance_scale)
    t0 = time.perf_counter()
    if args.model:
        gen = TimedGenerator(args.model, device=args.device, dtype=args.dtype, **options)
        label = args.model
    else:
        device, dtype = resolve_device(args.device, args.dtype)
        net, processor = random_musicgen(args.size, seed=0, device=device)
        gen = TimedGenerator(wrap_loaded(net, processor, f"random-{args.size}", device=device, dtype=dtype), **options)
        label = f"random-{args.size}"
    return gen, label, time.perf_counter() - t0


def run(gen: TimedGenerator, label: str, load_s: float, args: argparse.Namespace) -> dict[str, Any]:
    params = sum(p.numel() for p in gen.loaded.model.decoder.parameters())
    requests = _requests(args.batch, args.seconds, args.prompt_seconds, gen.sample_rate)
    if args.warmup:
        gen.generate(_requests(args.batch, min(args.seconds, 0.5), args.prompt_seconds, gen.sample_rate))
    walls, rates = [], []
    for _ in range(args.repeats):
        gen.decodes.clear()
        t1 = time.perf_counter()
        audio = gen.generate(requests)
        walls.append(time.perf_counter() - t1)
        steps = sum(s for s, _ in gen.decodes)
        rates.append(steps / sum(d for _, d in gen.decodes))
        assert all(a.size == round(args.seconds * gen.sample_rate) and np.all(np.isfinite(a)) for a in audio)
    wall = statistics.median(walls)
    return {
        "model": label,
        "decoder_params_m": round(params / 1e6, 1),
        "device": str(gen.loaded.device),
        "dtype": str(gen.loaded.dtype).removeprefix("torch."),
        "decode": args.decode,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "seconds": args.seconds,
        "prompt_seconds": args.prompt_seconds,
        "guidance_scale": args.guidance_scale,
        "load_s": round(load_s, 2),
        "wall_s": round(wall, 3),
        "decode_steps_per_s": round(statistics.median(rates), 2),
        "rtf": round(wall / args.seconds, 3),
        "audio_s_per_s": round(args.batch * args.seconds / wall, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(RANDOM_SIZES), default="tiny")
    parser.add_argument("--tiny", action="store_true", help="same as --size tiny")
    parser.add_argument("--model", help="real weights (folder or Hub id) instead of random ones")
    parser.add_argument("--batch", type=int, nargs="+", default=[1], help="requests per generate call")
    parser.add_argument("--seconds", type=float, default=2.0, help="new audio per request")
    parser.add_argument("--prompt-seconds", type=float, default=2.0, help="audio prompt (0: text only)")
    parser.add_argument("--guidance-scale", type=float, default=3.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--decode", default="stock")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the short warm-up call")
    parser.add_argument("--json", action="store_true", help="one JSON line per run instead of a table")
    args = parser.parse_args(argv)
    if args.tiny:
        args.size = "tiny"
    if args.threads:
        torch.set_num_threads(args.threads)
    gen, label, load_s = build(args)
    print(f"# built {label} in {load_s:.1f} s", file=sys.stderr, flush=True)
    rows = []
    for batch in args.batch:
        rows.append(run(gen, label, load_s, argparse.Namespace(**{**vars(args), "batch": batch})))
        if args.json:
            print(json.dumps(rows[-1]), flush=True)
    if not args.json:
        keys = ["model", "device", "dtype", "decode", "batch", "seconds", "decode_steps_per_s", "rtf", "audio_s_per_s", "wall_s"]
        print(" | ".join(keys))
        for row in rows:
            print(" | ".join(str(row[k]) for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
