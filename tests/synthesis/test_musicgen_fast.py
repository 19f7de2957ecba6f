"""The fast MusicGen decode path against stock ``generate`` on a tiny random model (CPU)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from promptloop.errors import InputError  # noqa: E402
from promptloop.synthesis.batching import BatchingGenerator, DecodeBatcher  # noqa: E402
from promptloop.synthesis.musicgen import fast as musicgen_fast  # noqa: E402
from promptloop.synthesis.musicgen.fast import (  # noqa: E402
    DecodeRequest,
    FastMusicgenDecoder,
    fast_generate,
    run_decode_batch,
)

PAD = 64  # codebook size of the tiny EnCodec; MusicGen's pad/start token is one past it
BOOKS = 4
TEXTS = ["calm slow piano", "upbeat drums and bright synth bass", "soft ambient pads"]


def _build_tiny_musicgen(path: Path) -> None:
    """Tiny T5 text encoder + trained word-level tokenizer, 32 kHz EnCodec, 4-codebook decoder."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        EncodecModel,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        PreTrainedTokenizerFast,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(0)
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = ["calm slow ambient piano with soft pads", "upbeat drums and bright synth bass"]
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    text = T5EncoderModel(
        T5Config(vocab_size=tok.get_vocab_size(), d_model=24, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                 pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    )
    # hop 640 at 32 kHz = 50 frames/s; 1.2 kbps with 6-bit codebooks = 4 codebooks
    codec = EncodecModel(
        EncodecConfig(sampling_rate=32000, target_bandwidths=[1.2], codebook_size=PAD, hidden_size=16,
                      num_filters=4, upsampling_ratios=[8, 5, 4, 4], num_lstm_layers=1, normalize=False)
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=PAD, max_position_embeddings=256, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
        hidden_size=32, num_codebooks=BOOKS, pad_token_id=PAD, bos_token_id=PAD, decoder_start_token_id=PAD,
    )
    model = MusicgenForConditionalGeneration(
        MusicgenConfig(text_encoder=text.config, audio_encoder=codec.config, decoder=decoder)
    )
    for name in ("pad_token_id", "decoder_start_token_id", "bos_token_id"):
        setattr(model.generation_config, name, PAD)
    model.save_pretrained(path)
    MusicgenProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=32000), tokenizer).save_pretrained(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    from transformers import MusicgenForConditionalGeneration, MusicgenProcessor

    path = tmp_path_factory.mktemp("tiny-musicgen")
    _build_tiny_musicgen(path)
    model = MusicgenForConditionalGeneration.from_pretrained(path).eval()
    return model, MusicgenProcessor.from_pretrained(path)


def _inputs(processor: object, batch: int, prompt: bool) -> dict[str, torch.Tensor]:
    kwargs = dict(processor(text=TEXTS[:batch], padding=True, return_tensors="pt"))  # type: ignore[operator]
    if prompt:
        rng = np.random.default_rng(7)
        audio = [(0.1 * rng.standard_normal(32000 // 5)).astype(np.float32) for _ in range(batch)]
        feats = processor(audio=audio, sampling_rate=32000, return_tensors="pt")  # type: ignore[operator]
        kwargs["input_values"] = feats["input_values"]
        kwargs["padding_mask"] = feats["padding_mask"]
    return kwargs


def _stock_codes(model: object, kwargs: dict[str, torch.Tensor], out: object, batch: int) -> torch.Tensor:
    """The codes stock generate decoded: its greedy choices with its own delay pattern removed."""
    chosen = torch.stack([scores.argmax(-1) for scores in out.scores], dim=-1)  # type: ignore[attr-defined]
    prefix = torch.full((batch * BOOKS, 1), PAD)
    if "input_values" in kwargs:
        codes = model.audio_encoder.encode(kwargs["input_values"], padding_mask=kwargs["padding_mask"]).audio_codes  # type: ignore[attr-defined]
        prefix = torch.cat([prefix, codes[0].reshape(batch * BOOKS, -1)], dim=-1)
    ids = torch.cat([prefix, chosen], dim=-1)
    _, pattern = model.decoder.build_delay_pattern_mask(prefix, PAD, ids.shape[-1])  # type: ignore[attr-defined]
    ids = model.decoder.apply_delay_pattern_mask(ids, pattern)  # type: ignore[attr-defined]
    return ids[ids != PAD].reshape(batch, BOOKS, -1)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("guidance", [None, 3.0])
@pytest.mark.parametrize("prompt", [False, True])
def test_greedy_fast_path_equals_stock_generate(tiny, batch: int, guidance: float | None, prompt: bool) -> None:
    model, processor = tiny
    kwargs = _inputs(processor, batch, prompt)
    new = 24
    stock = model.generate(**kwargs, max_new_tokens=new, do_sample=False, guidance_scale=guidance,
                           return_dict_in_generate=True, output_scores=True)
    fast = fast_generate(model, **kwargs, max_new_tokens=new, do_sample=False, guidance_scale=guidance)

    prompt_frames = 10 if prompt else 0  # 0.2 s at 50 frames/s
    assert fast.audio_codes.shape == (batch, BOOKS, prompt_frames + new + 1 - BOOKS)
    assert fast.steps == new
    assert torch.equal(fast.audio_codes, _stock_codes(model, kwargs, stock, batch))
    assert torch.equal(fast.audio_values, stock.sequences)
    # the comparison means something only if the model produces varied tokens
    assert torch.unique(fast.audio_codes).numel() > 8
    if prompt:  # the prompt's own codes lead the output, as generate lays it out
        codes = model.audio_encoder.encode(kwargs["input_values"], padding_mask=kwargs["padding_mask"]).audio_codes[0]
        assert torch.equal(fast.audio_codes[..., :prompt_frames], codes)


def test_guidance_changes_the_tokens(tiny) -> None:
    model, processor = tiny
    kwargs = _inputs(processor, 2, False)
    plain = fast_generate(model, **kwargs, max_new_tokens=24, do_sample=False, guidance_scale=None)
    guided = fast_generate(model, **kwargs, max_new_tokens=24, do_sample=False, guidance_scale=3.0)
    assert not torch.equal(plain.audio_codes, guided.audio_codes)


def test_sampling_is_seeded_and_honours_top_k(tiny) -> None:
    model, processor = tiny
    kwargs = _inputs(processor, 2, False)
    opts = dict(max_new_tokens=24, guidance_scale=3.0, do_sample=True, top_k=20, temperature=1.0, decode_audio=False)
    a = fast_generate(model, **kwargs, generator=torch.Generator().manual_seed(5), **opts)
    b = fast_generate(model, **kwargs, generator=torch.Generator().manual_seed(5), **opts)
    c = fast_generate(model, **kwargs, generator=torch.Generator().manual_seed(6), **opts)
    assert a.audio_values is None
    assert torch.equal(a.audio_codes, b.audio_codes)
    assert not torch.equal(a.audio_codes, c.audio_codes)
    assert int(a.audio_codes.min()) >= 0 and int(a.audio_codes.max()) < PAD
    greedy = fast_generate(model, **kwargs, max_new_tokens=24, guidance_scale=3.0, do_sample=False, decode_audio=False)
    for narrow in ({"top_k": 1}, {"top_k": 0, "top_p": 1e-6}):
        sampled = fast_generate(model, **kwargs, max_new_tokens=24, guidance_scale=3.0, do_sample=True,
                                generator=torch.Generator().manual_seed(1), decode_audio=False, **narrow)
        assert torch.equal(sampled.audio_codes, greedy.audio_codes), narrow


def test_bad_options_are_input_errors(tiny) -> None:
    model, processor = tiny
    kwargs = _inputs(processor, 1, False)
    with pytest.raises(InputError):
        fast_generate(model, **kwargs, max_new_tokens=0)
    with pytest.raises(InputError, match="too short"):
        fast_generate(model, **kwargs, max_new_tokens=2)
    with pytest.raises(InputError):
        fast_generate(model, **kwargs, max_new_tokens=8, do_sample=True, top_p=0.0)
    with pytest.raises(InputError):
        FastMusicgenDecoder(model.decoder)


def _request(processor: object, text: str, new: int = 16) -> DecodeRequest:
    tokens = processor.tokenizer(text, return_tensors="pt")  # type: ignore[attr-defined]
    return DecodeRequest(tokens["input_ids"], tokens["attention_mask"], max_new_tokens=new,
                         guidance_scale=3.0, do_sample=False)


def test_concurrent_requests_share_one_batched_decode(tiny) -> None:
    model, processor = tiny
    decoder = FastMusicgenDecoder(model)
    batch_sizes: list[int] = []

    def run(requests: list[DecodeRequest]) -> list[musicgen_fast.DecodeOutput]:
        batch_sizes.append(len(requests))
        return run_decode_batch(decoder, requests)

    requests = [_request(processor, TEXTS[0]), _request(processor, TEXTS[1])]
    results: dict[int, musicgen_fast.DecodeOutput] = {}
    ready = threading.Barrier(2)

    def session(i: int) -> None:
        ready.wait()
        results[i] = batcher.submit(requests[i]).result(timeout=60)

    with DecodeBatcher(run, window_s=0.5, key=DecodeRequest.batch_key) as batcher:
        threads = [threading.Thread(target=session, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert batch_sizes == [2]
    for i, request in enumerate(requests):
        alone = decoder.generate(request.input_ids, request.attention_mask, max_new_tokens=16,
                                 guidance_scale=3.0, do_sample=False)
        assert results[i].audio_values is not None and results[i].audio_values.shape == alone.audio_values.shape
        assert torch.equal(results[i].audio_codes, alone.audio_codes)
    assert not torch.equal(results[0].audio_codes, results[1].audio_codes)


def test_batcher_keeps_incompatible_requests_apart_and_reports_failures() -> None:
    calls: list[list[int]] = []

    def run(requests: list[int]) -> list[int]:
        calls.append(list(requests))
        if 13 in requests:
            raise RuntimeError("decoder failed")
        return [r * 10 for r in requests]

    with DecodeBatcher(run, window_s=0.3, key=lambda r: r % 2) as batcher:
        futures = [batcher.submit(r) for r in (1, 2, 3, 13, 4)]
        results = [f.exception(timeout=10) or f.result() for f in futures]
    assert sorted(map(sorted, calls)) == [[1, 3, 13], [2, 4]]
    assert results[1] == 20 and results[4] == 40
    assert all(isinstance(results[i], RuntimeError) for i in (0, 2, 3))
    with pytest.raises(RuntimeError):
        batcher.submit(5)


def test_musicgen_generator_fast_decode_matches_stock(tiny, tmp_path: Path) -> None:
    """Through the ``musicgen`` generator: with top_k=1 both strategies are deterministic."""
    musicgen = pytest.importorskip("promptloop.synthesis.musicgen.generator")
    from promptloop.representation.plan import MusicPlan
    from promptloop.synthesis.base import GenerationRequest

    model, processor = tiny
    loaded = musicgen.wrap_loaded(model, processor, "tiny", device=torch.device("cpu"), dtype=torch.float32)
    prior = (0.1 * np.random.default_rng(3).standard_normal(32000)).astype(np.float32)
    requests = [
        GenerationRequest(MusicPlan(prompt=TEXTS[0], tempo_bpm=70), 0.5, seed=1, prior=prior),
        GenerationRequest(MusicPlan(prompt=TEXTS[1], tempo_bpm=120), 0.5, seed=2, prior=prior[::-1].copy()),
    ]
    audio = {}
    for decode in ("stock", "fast", "auto"):
        gen = musicgen.MusicgenGenerator(loaded, decode=decode, top_k=1, prompt_seconds=0.2, seam_seconds=0.1)
        audio[decode] = gen.generate(requests)
    for a in audio["fast"]:
        assert a.shape == (16000,) and np.all(np.isfinite(a)) and float(np.abs(a).max()) > 0
    for stock, fast, auto in zip(audio["stock"], audio["fast"], audio["auto"], strict=True):
        np.testing.assert_array_equal(fast, stock)
        np.testing.assert_array_equal(auto, stock)  # auto is the stock path on the CPU


def test_sessions_calling_at_once_share_one_musicgen_call(tiny) -> None:
    musicgen = pytest.importorskip("promptloop.synthesis.musicgen.generator")
    from promptloop.representation.plan import MusicPlan
    from promptloop.synthesis.base import GenerationRequest, Generator

    model, processor = tiny
    loaded = musicgen.wrap_loaded(model, processor, "tiny", device=torch.device("cpu"), dtype=torch.float32)
    real = musicgen.MusicgenGenerator(loaded, decode="fast", top_k=1)

    class Recording(Generator):  # counts the calls that reach the real generator
        name = "recording"
        sample_rate = real.sample_rate
        calls: list[int] = []

        def generate(self, requests):
            self.calls.append(len(requests))
            return real.generate(requests)

    inner = Recording()
    shared = BatchingGenerator(inner, window_s=0.5)
    sessions = [
        [GenerationRequest(MusicPlan(prompt=TEXTS[0], tempo_bpm=70), 0.3, seed=1)],
        [GenerationRequest(MusicPlan(prompt=TEXTS[1], tempo_bpm=120), 0.3, seed=2),
         GenerationRequest(MusicPlan(prompt=TEXTS[2], tempo_bpm=90), 0.3, seed=3)],
    ]
    results: dict[int, list[np.ndarray]] = {}
    ready = threading.Barrier(2)

    def session(i: int) -> None:
        ready.wait()
        results[i] = shared.generate(sessions[i])

    threads = [threading.Thread(target=session, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()

    assert inner.calls == [3]
    assert [len(results[0]), len(results[1])] == [1, 2]
    for i, requests in enumerate(sessions):
        alone = real.generate(requests)  # greedy-equivalent (top_k=1): same codes as in the batch
        for got, want in zip(results[i], alone, strict=True):
            assert got.shape == (9600,)
            # EnCodec decodes a batch of 3 with float rounding of ~1e-7; a changed code would be ~1e-1
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_greedy_step_traces_as_one_graph(tiny) -> None:
    """CPU stand-in for graph capture: no host sync or value-dependent Python in the step."""
    model, _ = tiny
    decoder = FastMusicgenDecoder(model)
    greedy = musicgen_fast._Sampling(False, 1.0, 0, 1.0)
    st = decoder._state_for(2, True, 64, 8, greedy)
    st.tokens.fill_(PAD)
    st.pattern.fill_(-1)
    torch._dynamo.reset()
    step = torch.compile(decoder._step, backend="eager", fullgraph=True, dynamic=False)
    with torch.no_grad():
        step(st, True, greedy)  # fullgraph=True raises on any graph break
        step(st, True, greedy)
    assert int(st.pos) == 2
    assert int(st.tokens[..., 1:3].min()) >= 0 and int(st.tokens[..., 1:3].max()) < PAD
    torch._dynamo.reset()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graph capture needs a GPU")
def test_cuda_graph_replay_equals_eager_on_gpu(tiny) -> None:
    model, processor = tiny
    gpu = model.to("cuda")
    kwargs = {k: v.to("cuda") for k, v in _inputs(processor, 2, True).items()}
    graphed = FastMusicgenDecoder(gpu, use_cuda_graph=True).generate(
        **kwargs, max_new_tokens=24, guidance_scale=3.0, do_sample=False)
    eager = FastMusicgenDecoder(gpu, use_cuda_graph=False).generate(
        **kwargs, max_new_tokens=24, guidance_scale=3.0, do_sample=False)
    stock = gpu.generate(**kwargs, max_new_tokens=24, guidance_scale=3.0, do_sample=False)
    model.to("cpu")
    assert torch.equal(graphed.audio_codes, eager.audio_codes)
    assert torch.allclose(graphed.audio_values, stock, atol=1e-4)


def test_public_api() -> None:
    assert musicgen_fast.__all__ == [
        "DecodeOutput", "DecodeRequest", "FastMusicgenDecoder", "decode_strategy", "fast_generate", "run_decode_batch",
    ]
    import promptloop.synthesis.batching as batching

    assert batching.__all__ == ["BatchingGenerator", "DecodeBatcher"]
