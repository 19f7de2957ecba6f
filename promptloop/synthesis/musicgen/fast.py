"""A decode path for transformers' MusicGen without per-step overhead.

``model.generate`` spends most of its time on the host: it rebuilds the delay pattern,
re-slices the growing key/value cache, recomputes the sinusoidal positions on the CPU and runs a
list of logits processors at every step. This module decodes the same model with

* a preallocated key/value cache (one tensor per layer, written in place at the step's position)
  and the cross-attention keys/values of the text computed once before the loop;
* positions, the delay pattern, classifier-free guidance and top-k/top-p sampling (or greedy
  argmax) all done on the model's device, reading the step's position from a device tensor;
* one plain PyTorch function per step (:meth:`FastMusicgenDecoder._forward`), which on CUDA is
  captured once in a ``torch.cuda.CUDAGraph`` and replayed, and on the CPU runs eagerly.

Text encoding, the audio prompt's EnCodec encoding and the final EnCodec decoding happen outside
the loop. With greedy decoding the tokens equal those of ``model.generate`` (tests check it on a
tiny model on the CPU). Sampling draws with the exponential-race form of the categorical
(``argmax(p / E)``, ``E ~ Exp(1)``) so that it needs no host synchronisation; its draws therefore
differ from ``generate``'s ``torch.multinomial`` for the same seed.

Example::

    out = fast_generate(model, input_ids=ids, attention_mask=mask, max_new_tokens=500,
                        guidance_scale=3.0, do_sample=True, top_k=250)
    out.audio_values  # (batch, channels, samples), like model.generate's return value

Requests that arrive together from different sessions share one batch through
:class:`promptloop.synthesis.batching.DecodeBatcher`.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from promptloop.errors import InputError

__all__ = [
    "DecodeOutput",
    "DecodeRequest",
    "FastMusicgenDecoder",
    "decode_strategy",
    "fast_generate",
    "run_decode_batch",
]

# Static buffers are allocated for lengths rounded up to these multiples, so that requests of
# slightly different lengths reuse one captured graph. Masked tail positions add exact zeros.
_LENGTH_BUCKET = 64
_TEXT_BUCKET = 8
# Buffer sets (each with its own graph) kept per decoder; the cache of a large batch is gigabytes.
_MAX_SHAPES = 4


@dataclass(frozen=True)
class DecodeOutput:
    """What a fast decode returns.

    ``audio_codes``: ``(batch, codebooks, frames)``, the prompt's frames included, as
    ``generate`` lays them out. ``audio_values``: ``(batch, channels, samples)`` or ``None`` when
    audio decoding was not asked for. ``steps``: decoder steps run in the loop.
    """

    audio_codes: torch.Tensor
    audio_values: torch.Tensor | None
    steps: int


@dataclass(frozen=True)
class _Sampling:
    do_sample: bool
    temperature: float
    top_k: int
    top_p: float


def _resolve_sampling(
    model: Any, do_sample: bool | None, top_k: int | None, top_p: float | None, temperature: float | None
) -> _Sampling:
    """Fill unset sampling options from the model's generation config, as ``generate`` does."""
    cfg = model.generation_config
    do_sample = bool(cfg.do_sample) if do_sample is None else bool(do_sample)
    top_k = (cfg.top_k or 0) if top_k is None else int(top_k)
    top_p = (cfg.top_p if cfg.top_p is not None else 1.0) if top_p is None else float(top_p)
    temperature = (cfg.temperature or 1.0) if temperature is None else float(temperature)
    if top_k < 0:
        raise InputError(f"top_k must be >= 0, got {top_k}")
    if not 0.0 < top_p <= 1.0:
        raise InputError(f"top_p must be in (0, 1], got {top_p}")
    if not temperature > 0.0:
        raise InputError(f"temperature must be > 0, got {temperature}")
    if not do_sample:
        return _Sampling(False, 1.0, 0, 1.0)
    return _Sampling(True, temperature, top_k, top_p)


class _State:
    """The static buffers one decode runs on (and a CUDA graph is captured over)."""

    def __init__(
        self, *, batch: int, rows: int, codebooks: int, length: int, text_len: int,
        layers: int, heads: int, head_dim: int, hidden: int, dtype: torch.dtype, device: torch.device,
    ) -> None:
        def z(*shape: int, dt: torch.dtype = dtype) -> torch.Tensor:
            return torch.zeros(shape, dtype=dt, device=device)

        self.tokens = z(batch, codebooks, length, dt=torch.long)
        self.pattern = z(batch, codebooks, length, dt=torch.long)
        self.pos = z(1, dt=torch.long)
        self.k_cache = [z(rows, heads, length, head_dim) for _ in range(layers)]
        self.v_cache = [z(rows, heads, length, head_dim) for _ in range(layers)]
        self.cross_k = [z(rows, heads, text_len, head_dim) for _ in range(layers)]
        self.cross_v = [z(rows, heads, text_len, head_dim) for _ in range(layers)]
        self.cross_mask = z(rows, 1, 1, text_len)
        self.key_index = torch.arange(length, device=device)
        self.guidance = z(1, dt=torch.float32)
        self.temperature = torch.ones(1, dtype=torch.float32, device=device)
        self.top_p = torch.ones(1, dtype=torch.float32, device=device)
        self.positions = torch.zeros(0, device=device)
        self.generator = torch.Generator(device=device)
        self.graph: Any = None


class FastMusicgenDecoder:
    """Decodes a ``MusicgenForConditionalGeneration`` with a static cache and one step function.

    ``use_cuda_graph``: capture the step in a CUDA graph (default: when the model is on CUDA).
    Buffers and graphs are kept per batch shape and reused across calls.
    """

    def __init__(self, model: Any, *, use_cuda_graph: bool | None = None) -> None:
        from transformers import MusicgenForConditionalGeneration

        if not isinstance(model, MusicgenForConditionalGeneration):
            raise InputError(
                f"the fast decode path supports MusicgenForConditionalGeneration, got {type(model).__name__}"
            )
        self.model = model.eval()
        dec = model.decoder.model.decoder
        self._dec = dec
        self._layers = list(dec.layers)
        self._heads = model.decoder.config.num_attention_heads
        self._hidden = model.decoder.config.hidden_size
        self._head_dim = self._hidden // self._heads
        self._codebooks = model.decoder.num_codebooks
        self._channels = model.decoder.config.audio_channels
        self.device = next(model.decoder.parameters()).device
        self.dtype = next(model.decoder.parameters()).dtype
        cuda = self.device.type == "cuda"
        self.use_cuda_graph = cuda if use_cuda_graph is None else (use_cuda_graph and cuda)
        self._states: dict[tuple[Any, ...], _State] = {}
        self._lock = threading.Lock()

    # -- inputs -----------------------------------------------------------------------------
    def _position_table(self, length: int) -> torch.Tensor:
        weights = self._dec.embed_positions.weights
        if weights.shape[0] < length:
            weights = self._dec.embed_positions.get_embedding(length, self._hidden)
        return weights[:length].to(device=self.device, dtype=self.dtype)

    def _encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, cfg: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Text encoder output as the decoder sees it (projected, masked, null half for CFG)."""
        model = self.model
        input_ids = input_ids.to(self.device)
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.to(self.device)
        hidden = model.text_encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        if cfg:
            hidden = torch.cat([hidden, torch.zeros_like(hidden)], dim=0)
            mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
        needs_proj = (
            model.text_encoder.config.hidden_size != model.decoder.config.hidden_size
            and model.decoder.config.cross_attention_hidden_size is None
        )
        if needs_proj:
            hidden = model.enc_to_dec_proj(hidden)
        hidden = hidden * mask[..., None]
        return hidden.to(self.dtype), mask

    def _encode_audio(
        self, input_values: torch.Tensor, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, Any]:
        """Audio prompt -> ``(batch * codebooks, frames)`` codes and EnCodec's scales."""
        encoder = self.model.audio_encoder
        values = input_values.to(self.device, next(encoder.parameters()).dtype)
        kwargs = {} if padding_mask is None else {"padding_mask": padding_mask.to(self.device)}
        if self._channels == 1:
            out = encoder.encode(values, return_dict=True, **kwargs)
            codes, scales = out.audio_codes, out.audio_scales
        else:
            if values.shape[1] != 2:
                raise InputError(f"this model expects stereo prompt audio, got {values.shape[1]} channel(s)")
            left = encoder.encode(values[:, :1], return_dict=True, **kwargs)
            right = encoder.encode(values[:, 1:], return_dict=True, **kwargs)
            frames, bsz, books, n = left.audio_codes.shape
            codes = left.audio_codes.new_ones((frames, bsz, 2 * books, n))
            codes[:, :, ::2], codes[:, :, 1::2] = left.audio_codes, right.audio_codes
            scales = [None] * bsz
            if left.audio_scales != [None] or right.audio_scales != [None]:
                scales = torch.stack([left.audio_scales, right.audio_scales], dim=1)
        frames, bsz, _, n = codes.shape
        if frames != 1:
            raise InputError("the audio encoder returned chunked codes; set chunk_length_s=None")
        return codes[0].reshape(bsz * self._codebooks, n), scales

    # -- the decoder forward over static buffers ------------------------------------------------
    def _attention(
        self, attn: Any, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        rows, t, _ = x.shape
        q = F.linear(x, attn.q_proj.weight, attn.q_proj.bias).view(rows, t, self._heads, self._head_dim)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, attn_mask=mask, scale=attn.scaling)
        out = out.transpose(1, 2).reshape(rows, t, self._hidden)
        return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)

    def _project_kv(self, attn: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows, t, _ = x.shape
        shape = (rows, t, self._heads, self._head_dim)
        k = F.linear(x, attn.k_proj.weight, attn.k_proj.bias).view(shape).transpose(1, 2)
        v = F.linear(x, attn.v_proj.weight, attn.v_proj.bias).view(shape).transpose(1, 2)
        return k, v

    def _forward(self, st: _State, positions: torch.Tensor, cfg: bool) -> torch.Tensor:
        """Decoder logits ``(rows, codebooks, vocab)`` for the tokens at ``positions`` (last one).

        Writes the keys/values of those positions into the static cache. ``positions`` is a
        device tensor, so the same call serves every step of a captured graph.
        """
        cur = st.tokens.index_select(2, positions)  # (batch, codebooks, t)
        embeds: Any = 0
        for book, table in enumerate(self._dec.embed_tokens):
            embeds = embeds + F.embedding(cur[:, book], table.weight)
        if cfg:
            embeds = torch.cat([embeds, embeds], dim=0)
        h = embeds + st.positions.index_select(0, positions)
        # built with fills, not host->device copies, so that it can be captured in a graph
        future = st.key_index[None, :] > positions[:, None]  # (t, length)
        self_mask = torch.zeros(future.shape, dtype=h.dtype, device=h.device)
        self_mask = self_mask.masked_fill(future, float("-inf"))[None, None]
        for i, layer in enumerate(self._layers):
            residual = h
            x = F.layer_norm(h, (self._hidden,), layer.self_attn_layer_norm.weight,
                             layer.self_attn_layer_norm.bias, layer.self_attn_layer_norm.eps)
            k, v = self._project_kv(layer.self_attn, x)
            st.k_cache[i].index_copy_(2, positions, k)
            st.v_cache[i].index_copy_(2, positions, v)
            h = residual + self._attention(layer.self_attn, x, st.k_cache[i], st.v_cache[i], self_mask)
            residual = h
            x = F.layer_norm(h, (self._hidden,), layer.encoder_attn_layer_norm.weight,
                             layer.encoder_attn_layer_norm.bias, layer.encoder_attn_layer_norm.eps)
            h = residual + self._attention(layer.encoder_attn, x, st.cross_k[i], st.cross_v[i], st.cross_mask)
            residual = h
            x = F.layer_norm(h, (self._hidden,), layer.final_layer_norm.weight,
                             layer.final_layer_norm.bias, layer.final_layer_norm.eps)
            x = layer.activation_fn(F.linear(x, layer.fc1.weight, layer.fc1.bias))
            h = residual + F.linear(x, layer.fc2.weight, layer.fc2.bias)
        norm = self._dec.layer_norm
        h = F.layer_norm(h[:, -1], (self._hidden,), norm.weight, norm.bias, norm.eps)
        heads = self.model.decoder.lm_heads
        return torch.stack([F.linear(h, head.weight, head.bias) for head in heads], dim=1)

    def _step(self, st: _State, cfg: bool, sampling: _Sampling) -> None:
        """One decode step: logits at ``pos``, guidance, choice, delay pattern, write ``pos + 1``."""
        logits = self._forward(st, st.pos, cfg).float()
        if cfg:
            cond, uncond = logits.chunk(2, dim=0)
            logits = uncond + (cond - uncond) * st.guidance
        if sampling.do_sample:
            nxt = self._sample(st, logits, sampling)
        else:
            nxt = logits.argmax(dim=-1)
        target = st.pos + 1
        fixed = st.pattern.index_select(2, target).squeeze(2)
        nxt = torch.where(fixed == -1, nxt, fixed)
        st.tokens.index_copy_(2, target, nxt.unsqueeze(2))
        st.pos.add_(1)

    @staticmethod
    def _sample(st: _State, logits: torch.Tensor, sampling: _Sampling) -> torch.Tensor:
        """Temperature, top-k, top-p as transformers' warpers; then a sync-free categorical draw."""
        logits = logits / st.temperature
        if sampling.top_k:
            kth = torch.topk(logits, min(sampling.top_k, logits.shape[-1]), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if sampling.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=False, dim=-1)
            cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
            drop = cumulative <= (1 - st.top_p)
            drop[..., -1:] = False
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        probs = logits.softmax(dim=-1)
        race = torch.empty_like(probs).exponential_(1.0, generator=st.generator)
        return (probs / race).argmax(dim=-1)

    # -- buffers and graphs -------------------------------------------------------------------
    def _state_for(
        self, batch: int, cfg: bool, length: int, text_len: int, sampling: _Sampling
    ) -> _State:
        key = (batch, cfg, length, text_len, sampling.do_sample, sampling.top_k, sampling.top_p < 1.0)
        st = self._states.pop(key, None)
        if st is None:
            while len(self._states) >= _MAX_SHAPES:  # drop the least recently used buffers/graph
                self._states.pop(next(iter(self._states)))
            st = _State(
                batch=batch, rows=2 * batch if cfg else batch, codebooks=self._codebooks,
                length=length, text_len=text_len, layers=len(self._layers), heads=self._heads,
                head_dim=self._head_dim, hidden=self._hidden, dtype=self.dtype, device=self.device,
            )
            st.positions = self._position_table(length)
            if self.use_cuda_graph:
                self._capture(st, cfg, sampling)
        self._states[key] = st
        return st

    def _capture(self, st: _State, cfg: bool, sampling: _Sampling) -> None:
        """Record one step in a CUDA graph (after warm-up steps on a side stream)."""
        graph = torch.cuda.CUDAGraph()
        if sampling.do_sample:
            graph.register_generator_state(st.generator)
        stream = torch.cuda.Stream(device=self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(3):
                st.pos.zero_()
                self._step(st, cfg, sampling)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        st.pos.zero_()
        with torch.cuda.graph(graph):
            self._step(st, cfg, sampling)
        st.graph = graph

    # -- public entry ----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        input_values: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
        *,
        max_new_tokens: int,
        guidance_scale: float | None = None,
        do_sample: bool | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        temperature: float | None = None,
        generator: torch.Generator | None = None,
        decode_audio: bool = True,
    ) -> DecodeOutput:
        """Same inputs and result as ``model.generate(...)``; unset options come from the
        model's generation config. ``input_values`` is an audio prompt to continue.
        Calls are serialised: the static buffers are shared."""
        with self._lock:
            return self._generate(
                input_ids, attention_mask, input_values, padding_mask, max_new_tokens=max_new_tokens,
                guidance_scale=guidance_scale, do_sample=do_sample, top_k=top_k, top_p=top_p,
                temperature=temperature, generator=generator, decode_audio=decode_audio,
            )

    def _generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        input_values: torch.Tensor | None,
        padding_mask: torch.Tensor | None,
        *,
        max_new_tokens: int,
        guidance_scale: float | None,
        do_sample: bool | None,
        top_k: int | None,
        top_p: float | None,
        temperature: float | None,
        generator: torch.Generator | None,
        decode_audio: bool,
    ) -> DecodeOutput:
        if max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        gen_cfg = self.model.generation_config
        scale = gen_cfg.guidance_scale if guidance_scale is None else guidance_scale
        cfg = scale is not None and scale > 1
        sampling = _resolve_sampling(self.model, do_sample, top_k, top_p, temperature)
        batch = input_ids.shape[0]
        start = gen_cfg.decoder_start_token_id
        start = gen_cfg.bos_token_id if start is None else start
        pad = gen_cfg.pad_token_id

        hidden, text_mask = self._encode_text(input_ids, attention_mask, cfg)
        scales: Any = [None] * batch
        head = torch.full((batch * self._codebooks, 1), start, dtype=torch.long, device=self.device)
        prefix = head
        if input_values is not None:
            codes, scales = self._encode_audio(input_values, padding_mask)
            # generate() prepends the start token only when no row already begins with it
            prefix = torch.cat([head, codes], dim=-1) if bool((codes[:, 0] != start).all()) else codes
        max_length = prefix.shape[-1] + max_new_tokens
        prefix, pattern = self.model.decoder.build_delay_pattern_mask(prefix, pad_token_id=start, max_length=max_length)
        n_prefix = prefix.shape[-1]
        pattern = pattern.reshape(batch, self._codebooks, max_length)
        if bool((pattern[..., :n_prefix] == -1).any()):  # generate() then skips the delay pattern
            raise InputError(f"max_new_tokens={max_new_tokens} is too short for {self._codebooks} delayed codebooks")
        length = _bucket(max_length, _LENGTH_BUCKET)
        text_len = _bucket(hidden.shape[1], _TEXT_BUCKET)
        st = self._state_for(batch, cfg, length, text_len, sampling)

        st.pattern.fill_(-1)
        st.pattern[..., :max_length].copy_(pattern)
        st.tokens.zero_()
        st.tokens[..., :n_prefix].copy_(pattern[..., :n_prefix])
        self._load_text(st, hidden, text_mask)
        st.guidance.fill_(float(scale) if cfg else 1.0)
        st.temperature.fill_(sampling.temperature)
        st.top_p.fill_(sampling.top_p)
        if sampling.do_sample:
            seed = torch.randint(0, 2**62, (1,), generator=generator, device=_device_of(generator))
            st.generator.manual_seed(int(seed.item()))

        # The prompt (all known columns but the last) goes through in one causal pass.
        if n_prefix > 1:
            self._forward(st, torch.arange(n_prefix - 1, device=self.device), cfg)
        st.pos.fill_(n_prefix - 1)
        steps = max_length - n_prefix
        for _ in range(steps):
            if st.graph is not None:
                st.graph.replay()
            else:
                self._step(st, cfg, sampling)

        ids = st.tokens[..., :max_length]
        codes_out = ids[ids != pad].reshape(batch, self._codebooks, -1)
        audio = self._decode_audio(codes_out, scales) if decode_audio else None
        return DecodeOutput(audio_codes=codes_out.clone(), audio_values=audio, steps=steps)

    def _load_text(self, st: _State, hidden: torch.Tensor, mask: torch.Tensor) -> None:
        n = hidden.shape[1]
        additive = torch.full(mask.shape, float("-inf"), dtype=self.dtype, device=self.device)
        additive = additive.masked_fill(mask.bool(), 0.0)
        # rows with no text at all (the null half of guidance) see zero keys and values; leaving
        # them unmasked gives the zero output the stock path gets instead of a NaN
        additive = additive.masked_fill(~mask.bool().any(dim=-1, keepdim=True), 0.0)
        st.cross_mask.fill_(float("-inf"))
        st.cross_mask[:, 0, 0, :n].copy_(additive)
        for i, layer in enumerate(self._layers):
            k, v = self._project_kv(layer.encoder_attn, hidden)
            st.cross_k[i].zero_()
            st.cross_v[i].zero_()
            st.cross_k[i][:, :, :n].copy_(k)
            st.cross_v[i][:, :, :n].copy_(v)

    def _decode_audio(self, codes: torch.Tensor, scales: Any) -> torch.Tensor:
        codec = self.model.audio_encoder
        frames = codes[None]
        if self._channels == 1:
            return codec.decode(frames, audio_scales=scales).audio_values
        left = codec.decode(frames[:, :, ::2], audio_scales=scales).audio_values
        right = codec.decode(frames[:, :, 1::2], audio_scales=scales).audio_values
        return torch.cat([left, right], dim=1)


def _device_of(generator: torch.Generator | None) -> torch.device:
    return torch.device("cpu") if generator is None else generator.device


def _bucket(n: int, multiple: int) -> int:
    return int(math.ceil(n / multiple) * multiple)


_decoders: weakref.WeakKeyDictionary[Any, FastMusicgenDecoder] = weakref.WeakKeyDictionary()
_decoders_lock = threading.Lock()


def fast_generate(model: Any, input_ids: torch.Tensor, **kwargs: Any) -> DecodeOutput:
    """Decode with the fast path, reusing one :class:`FastMusicgenDecoder` per model."""
    with _decoders_lock:
        decoder = _decoders.get(model)
        weight = next(model.decoder.parameters())
        if decoder is None or (decoder.device, decoder.dtype) != (weight.device, weight.dtype):
            decoder = _decoders[model] = FastMusicgenDecoder(model)  # new, or the model was moved
    return decoder.generate(input_ids, **kwargs)


def decode_strategy(loaded: Any, batch: Any) -> torch.Tensor:
    """The ``decode="fast"`` strategy of :class:`~promptloop.synthesis.musicgen.generator.MusicgenGenerator`.

    Takes its ``LoadedMusicgen`` and ``DecodeBatch``; returns audio ``(B, C, T)`` like ``generate``.
    """
    if loaded.melody:
        raise InputError("the fast decode path does not support MusicGen-Melody; use decode='stock'")
    inputs = dict(batch.inputs)
    input_ids = inputs.pop("input_ids")
    text_mask, values, padding = (inputs.pop(k, None) for k in ("attention_mask", "input_values", "padding_mask"))
    if inputs:
        raise InputError(f"the fast decode path cannot use inputs {sorted(inputs)}")
    options = batch.sampling.generate_kwargs()
    out = fast_generate(
        loaded.model, input_ids, attention_mask=text_mask, input_values=values, padding_mask=padding,
        max_new_tokens=batch.max_new_tokens, guidance_scale=options.get("guidance_scale"),
        do_sample=options.get("do_sample"), top_k=options.get("top_k"), top_p=options.get("top_p"),
        temperature=options.get("temperature"), generator=torch.Generator().manual_seed(int(batch.seed)),
    )
    assert out.audio_values is not None
    return out.audio_values


# -- batching requests of several sessions ------------------------------------------------------



@dataclass(frozen=True)
class DecodeRequest:
    """One session's segment: its text tokens, an optional audio prompt, and decode options.

    ``input_ids``/``attention_mask``: ``(1, text_len)``. ``input_values``: ``(1, channels,
    samples)`` at the model's rate, or ``None``. Requests with equal :meth:`batch_key` can share
    one decode.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor | None = None
    input_values: torch.Tensor | None = None
    max_new_tokens: int = 256
    guidance_scale: float | None = None
    do_sample: bool | None = None
    top_k: int | None = None
    top_p: float | None = None
    temperature: float | None = None
    seed: int | None = field(default=None, compare=False)

    def batch_key(self) -> Hashable:
        prompt = None if self.input_values is None else tuple(self.input_values.shape[1:])
        return (self.max_new_tokens, prompt, self.guidance_scale, self.do_sample, self.top_k,
                self.top_p, self.temperature)


def run_decode_batch(decoder: FastMusicgenDecoder, requests: Sequence[DecodeRequest]) -> list[DecodeOutput]:
    """Decode requests with equal :meth:`DecodeRequest.batch_key` in one call and split the result.

    Text is right-padded to the longest request (padding is masked out). A sampled batch is
    seeded with the first request's seed, so its draws depend on the batch it ran in.
    """
    first = requests[0]
    if any(r.batch_key() != first.batch_key() for r in requests):
        raise InputError("requests in one decode batch must share length, prompt shape and options")
    width = max(r.input_ids.shape[-1] for r in requests)
    ids = torch.zeros((len(requests), width), dtype=torch.long)
    mask = torch.zeros((len(requests), width), dtype=torch.long)
    for row, r in enumerate(requests):
        n = r.input_ids.shape[-1]
        ids[row, :n] = r.input_ids.reshape(-1)
        mask[row, :n] = torch.ones(n, dtype=torch.long) if r.attention_mask is None else r.attention_mask.reshape(-1)
    values = None
    if first.input_values is not None:
        values = torch.cat([r.input_values for r in requests if r.input_values is not None], dim=0)
    generator = None
    if first.seed is not None:
        generator = torch.Generator().manual_seed(first.seed)
    out = decoder.generate(
        ids, mask, values, max_new_tokens=first.max_new_tokens, guidance_scale=first.guidance_scale,
        do_sample=first.do_sample, top_k=first.top_k, top_p=first.top_p, temperature=first.temperature,
        generator=generator,
    )
    return [
        DecodeOutput(
            audio_codes=out.audio_codes[row : row + 1],
            audio_values=None if out.audio_values is None else out.audio_values[row : row + 1],
            steps=out.steps,
        )
        for row in range(len(requests))
    ]
