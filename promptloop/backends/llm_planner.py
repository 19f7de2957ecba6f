"""The ``llm`` planner: LangChain chat models write and rewrite segment plans, and read chat.

The model's answer is untrusted.  It is parsed into :class:`PlanDraft` (tool calling where the
provider has it, JSON text otherwise), length-capped, and checked against the listener's constraints:
avoided sounds, loudness ceiling, gentle mode and the trajectory's step size.  What can be repaired
is repaired (and the repair noted in the plan's rationale); what cannot raises
:class:`~promptloop.errors.ConstraintViolation` or :class:`PlanRejected`, and the loop then uses the
rule planner's plan and records why in ``session.json``.  Time-outs and model errors are retried a
bounded number of times and never escape as anything but those two errors.

Providers (``provider=``): ``ollama`` (langchain-ollama), ``openai`` (langchain-openai; any
OpenAI-compatible server via ``base_url``) and ``huggingface`` (langchain-huggingface, a local model
folder).  Tests inject langchain-core's fake chat models through ``chat_model=``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptloop.affect import Affect, describe_affect
from promptloop.errors import BackendUnavailable, ConstraintViolation, GenerationError, InputError
from promptloop.interfaces import Evaluation, PlanContext, Planner
from promptloop.plan import DYNAMICS_LUFS, MusicPlan, check_prompt, tempo_for
from promptloop.templates import RenderedPrompt, load_template
from promptloop.vocabulary import canonical

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from promptloop.chat import ChatState, ChatUpdate
    from promptloop.settings import Settings

__all__ = [
    "PROVIDERS",
    "TEMPLATE_NAMES",
    "ChatDraft",
    "LLMPlanner",
    "PlanDraft",
    "PlanRejected",
    "checked_plan",
    "llm_options",
    "loudest_dynamics",
    "make_chat_model",
    "planner_options_for",
    "tempo_window",
]

PROVIDERS = ("ollama", "openai", "huggingface")
TEMPLATE_NAMES = ("draft_segment", "revise_segment", "interpret_chat")
PROMPT_CAP = 300  # MusicGen was trained on short descriptions
RATIONALE_CAP = 200
MAX_ANSWER_CHARS = 6000  # a plan is a few hundred characters; more is a runaway answer
TEMPO_PER_AROUSAL = 40.0  # BPM per unit of arousal, the slope of plan.tempo_for above 0
HEADROOM_LU = 1.0  # as in promptloop.loop: segments aim this far under the ceiling
_DYNAMICS = ("pp", "p", "mp", "mf", "f")
_SAFE_TEXT = re.compile(r"^[\w ,.;:'()/#+&%-]+$")
_INSTRUCTION_WORDS = re.compile(
    r"\b(ignore|disregard|instructions?|system prompt|assistant|jailbreak|override|you are|you must)\b", re.I)
_HARSH_WORDS = re.compile(r"\b(harsh|piercing|shrill|screech\w*|aggressive|distorted|distortion|crash\w*|sharp)\b", re.I)
_LOUD_WORDS = re.compile(r"\b(loud|louder|fortissimo|blasting|booming|thunderous|pounding|deafening)\b", re.I)
_BPM = re.compile(r"\b\d{2,3}(\.\d+)?\s*bpm\b", re.I)
_GENTLE_RULES = ("gentle mode ON: soft attacks, dark warm timbre, no percussion, bells, birds or "
                 "high-pitched sounds, nothing harsh or sudden")
# Models with no chat template of their own get a plain one (tiny or base models).
PLAIN_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)
M = TypeVar("M", bound=BaseModel)


class PlanRejected(GenerationError):
    """The model gave no usable plan (time-out, error, malformed or unsafe answer)."""


class PlanDraft(BaseModel):
    """What the model is asked to write; lenient on purpose, checked and capped afterwards."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(description=f"MusicGen text prompt, one plain line, at most {PROMPT_CAP} characters")
    tempo_bpm: float = Field(description="tempo in beats per minute")
    key: str = Field(description="tonic: C, C#, D, Eb, E, F, F#, G, Ab, A, Bb or B")
    mode: Literal["major", "minor"]
    instruments: list[str] = Field(default_factory=list, description="instruments, e.g. piano, pads")
    textures: list[str] = Field(default_factory=list, description="background textures, e.g. rain")
    genre: str | None = None
    dynamics: Literal["pp", "p", "mp", "mf", "f"]
    density: float | None = Field(default=None, ge=0, le=1, description="note density, 0 sparse to 1 busy")
    brightness: float | None = Field(default=None, ge=0, le=1, description="timbre, 0 dark to 1 bright")
    valence: float | None = Field(default=None, ge=-1, le=1, description="intended valence")
    arousal: float | None = Field(default=None, ge=-1, le=1, description="intended arousal")
    rationale: str = Field(default="", description="one short sentence: why this plan")

    @field_validator("mode", "dynamics", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class ChatDraft(BaseModel):
    """What the model is asked to write for one chat message."""

    model_config = ConfigDict(extra="ignore")

    understood: bool = Field(description="false when the message asks for nothing you can do")
    feeling: str | None = Field(default=None, description="the listener's state now, one affect word")
    valence_shift: float | None = Field(default=None, description="change of the listener's valence")
    arousal_shift: float | None = Field(default=None, description="change of the listener's arousal")
    target: str | None = Field(default=None, description="new session goal, one affect word")
    avoid: list[str] = Field(default_factory=list, description="sounds to stop playing")
    prefer: list[str] = Field(default_factory=list, description="sounds the listener asks for")
    less: list[str] = Field(default_factory=list, description="liked sounds to use less")
    loudness_db: float | None = Field(default=None, description="-3 for quieter, +3 for louder")
    gentle: bool | None = Field(default=None, description="true if sounds hurt or feel harsh")
    like_segment: int | None = Field(default=None, description="1-based number of a segment to resemble")


class _TimedOut(Exception):
    pass


def _call_with_timeout(func: Callable[[], Any], seconds: float) -> Any:
    """Run ``func`` on a daemon thread; give up after ``seconds`` (the thread is abandoned)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # handed back to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=run, name="promptloop-llm-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _TimedOut
    if "error" in box:
        raise box["error"]
    return box["value"]


def _invoke_untraced(runnable: Any, messages: list[Any]) -> Any:
    """``runnable.invoke`` with LangSmith tracing off: prompts carry listener (health) data, which
    must not leave the machine because some environment variable turned tracing on."""
    from langsmith.run_helpers import tracing_context

    with tracing_context(enabled=False):
        return runnable.invoke(messages)


def _text_of(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return content if isinstance(content, str) else str(content)


def _loads_json(text: str) -> Any:
    from langchain_core.utils.json import parse_json_markdown

    try:
        return parse_json_markdown(text, parser=json.loads)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise
        return json.loads(text[start : end + 1])  # prose around the object


# -- building chat models --------------------------------------------------------------------------
def make_chat_model(
    provider: str,
    model: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
    temperature: float = 0.2,
    max_tokens: int = 512,
) -> BaseChatModel:
    """A LangChain chat model for ``provider``; a missing extra is a :class:`BackendUnavailable`."""
    if provider not in PROVIDERS:
        raise InputError(f"unknown LLM provider {provider!r}; choose from: {', '.join(PROVIDERS)}")
    if not model:
        raise InputError("the llm planner needs a model name (--llm-model)")
    try:
        if provider == "ollama":
            from langchain_ollama import ChatOllama

            return ChatOllama(model=model, base_url=base_url, temperature=temperature, num_predict=max_tokens,
                              client_kwargs={"timeout": timeout})
        if provider == "openai":
            from langchain_openai import ChatOpenAI

            if api_key is None and base_url is not None and not os.environ.get("OPENAI_API_KEY"):
                api_key = "not-needed"  # local OpenAI-compatible servers take any key
            kwargs: dict[str, Any] = {"api_key": api_key} if api_key is not None else {}
            return ChatOpenAI(model=model, base_url=base_url, temperature=temperature,
                              max_completion_tokens=max_tokens, timeout=timeout, max_retries=0, **kwargs)
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    except ImportError as exc:
        raise BackendUnavailable(f"the {provider} provider needs {exc.name}: pip install 'promptloop[llm]'") from exc
    folder = Path(model).expanduser()
    if not (folder / "config.json").is_file():
        raise BackendUnavailable(
            f"huggingface provider: {folder} is not a local model folder (no config.json); "
            "weights are never downloaded, point --llm-model at a saved model")
    pipe = HuggingFacePipeline.from_model_id(
        model_id=str(folder), task="text-generation", device=-1,
        pipeline_kwargs={"max_new_tokens": max_tokens, "return_full_text": False, "do_sample": False},
    )
    tokenizer = pipe.pipeline.tokenizer
    if getattr(tokenizer, "chat_template", None) is None:
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    return ChatHuggingFace(llm=pipe, tokenizer=tokenizer)


def llm_options(
    settings: Settings,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Planner options from settings, overridden by per-call choices (CLI flags, API fields)."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
    return {
        "provider": provider or settings.llm_provider,
        "model": model or settings.llm_model,
        "base_url": base_url or settings.llm_base_url,
        "api_key": key,
        "timeout": settings.llm_timeout,
        "retries": settings.llm_retries,
        "temperature": settings.llm_temperature,
        "max_tokens": settings.llm_max_tokens,
    }


def planner_options_for(
    settings: Settings,
    planner: str | None,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Options for ``build_backends(planner_options=...)``: the llm settings when the planner is
    ``llm``; ``--llm-*`` flags given for another planner are an input error."""
    if (planner or settings.planner) == "llm":
        return llm_options(settings, provider=provider, model=model, base_url=base_url)
    if any(v is not None for v in (provider, model, base_url)):
        raise InputError("--llm-provider, --llm-model and --llm-base-url apply to --planner llm")
    return {}


# -- checking a plan against the listener's constraints --------------------------------------------
def loudest_dynamics(ceiling_lufs: float) -> str:
    """The loudest marking whose loudness stays under the ceiling (with the loop's headroom)."""
    allowed = [d for d in _DYNAMICS if DYNAMICS_LUFS[d] <= ceiling_lufs - HEADROOM_LU]
    return allowed[-1] if allowed else "pp"


def tempo_window(context: PlanContext) -> tuple[float, float]:
    """Tempi a plan may use: near the waypoint's tempo and one step from the previous plan's."""
    half = max(8.0, TEMPO_PER_AROUSAL * context.max_step)
    centre = tempo_for(context.waypoint.arousal)
    low, high = centre - half, centre + half
    prev = context.previous_plan
    if prev is not None and max(low, prev.tempo_bpm - half) <= min(high, prev.tempo_bpm + half):
        low, high = max(low, prev.tempo_bpm - half), min(high, prev.tempo_bpm + half)
    return max(40.0, round(low)), min(180.0, round(high))


def _cut(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    head = text[:cap]
    comma = head.rfind(",")
    return (head[:comma] if comma >= cap // 2 else head.rsplit(" ", 1)[0]).rstrip(" ,;")


def checked_plan(draft: PlanDraft, baseline: MusicPlan, context: PlanContext) -> tuple[MusicPlan, list[str]]:
    """Turn a draft into a plan that keeps every constraint; return it with the repairs made.

    Raises :class:`ConstraintViolation` when the prompt text itself breaks a constraint (it names an
    avoided sound, asks for harsh or loud sound the listener cannot have, or aims off the
    trajectory) and :class:`PlanRejected` when it is unsafe or unusable text.
    """
    prefs, notes = context.preferences, []
    raw = draft.prompt.strip()
    if "\n" in raw or "\r" in raw:
        raise PlanRejected("prompt spans several lines")
    prompt = " ".join(raw.split())
    if len(prompt) < 3 or not _SAFE_TEXT.match(prompt):
        raise PlanRejected("prompt holds markup or characters a music prompt never needs")
    if _INSTRUCTION_WORDS.search(prompt):
        raise PlanRejected("prompt reads like instructions, not music")
    if len(prompt) > PROMPT_CAP:
        prompt = _cut(prompt, PROMPT_CAP)
        if len(prompt) < 20:
            raise PlanRejected("prompt too long and could not be shortened")
        notes.append(f"prompt cut to {len(prompt)} chars")
    forbidden = prefs.forbidden
    check_prompt(prompt, forbidden)
    if prefs.gentle and _HARSH_WORDS.search(prompt):
        raise ConstraintViolation("gentle mode: prompt asks for harsh or sharp sound")
    loudest = loudest_dynamics(prefs.loudness_ceiling_lufs)
    if loudest != "f" and _LOUD_WORDS.search(prompt):
        raise ConstraintViolation(f"prompt asks for loud music; the ceiling allows {loudest} at most")
    if draft.valence is not None and draft.arousal is not None:
        off = Affect(draft.valence, draft.arousal).distance(context.waypoint)
        if off > context.max_step + 1e-6:
            raise ConstraintViolation(f"plan aims {off:.2f} away from the waypoint (max step {context.max_step})")

    fields = baseline.model_dump()
    fields.update({k: v for k, v in draft.model_dump(exclude={"valence", "arousal"}).items() if v is not None})
    fields["prompt"] = prompt
    for name in ("instruments", "textures"):
        terms = [canonical(t) for t in fields[name] if isinstance(t, str) and _SAFE_TEXT.match(t) and len(t) <= 40]
        kept = [t for t in terms if t not in forbidden][:6]
        if len(kept) != len(fields[name]):
            notes.append(f"dropped avoided or unusable {name}")
        fields[name] = tuple(kept)
    if not fields["instruments"]:
        fields["instruments"] = baseline.instruments
    genre = fields["genre"]
    if not isinstance(genre, str) or not _SAFE_TEXT.match(genre) or len(genre) > 40 or canonical(genre) in forbidden:
        fields["genre"] = baseline.genre
        notes.append("replaced avoided or unusable genre")
    cap = "mp" if prefs.gentle and _DYNAMICS.index(loudest) > _DYNAMICS.index("mp") else loudest
    if _DYNAMICS.index(fields["dynamics"]) > _DYNAMICS.index(cap):
        fields["dynamics"] = cap
        notes.append(f"dynamics lowered to {cap}")
    if prefs.gentle and fields["brightness"] > 0.35:
        fields["brightness"] = 0.35
        notes.append("brightness capped (gentle)")
    low, high = tempo_window(context)
    tempo = float(fields["tempo_bpm"])
    if not low <= tempo <= high:
        fields["tempo_bpm"] = min(high, max(low, tempo))
        fields["prompt"] = _BPM.sub(f"{fields['tempo_bpm']:.0f} bpm", prompt)
        notes.append(f"tempo {tempo:.0f} -> {fields['tempo_bpm']:.0f} bpm")
    fields["target_valence"], fields["target_arousal"] = context.waypoint.valence, context.waypoint.arousal
    rationale = " ".join(str(fields["rationale"]).split())
    if len(rationale) > RATIONALE_CAP:
        rationale = _cut(rationale, RATIONALE_CAP)
    if notes:
        rationale = f"{rationale} [repaired: {'; '.join(notes)}]".strip()
    fields["rationale"] = rationale[:500]
    try:
        plan = MusicPlan(**fields)
    except ValidationError as exc:
        bad = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise PlanRejected(f"plan failed the schema ({', '.join(bad)})") from None
    check_prompt(" ".join((*plan.instruments, *plan.textures, plan.genre or "")), forbidden)
    return plan, notes


# -- the planner ------------------------------------------------------------------------------------
def _affect_text(a: Affect) -> str:
    return f"valence {a.valence:+.2f}, arousal {a.arousal:+.2f} ({describe_affect(a)})"


def _plan_text(plan: MusicPlan | None) -> str:
    if plan is None:
        return "none"
    return (f"prompt: {plan.prompt}; tempo {plan.tempo_bpm:.0f} bpm; key {plan.key} {plan.mode}; "
            f"instruments {', '.join(plan.instruments) or 'none'}; textures {', '.join(plan.textures) or 'none'}; "
            f"dynamics {plan.dynamics}; density {plan.density:.2f}; brightness {plan.brightness:.2f}")


class LLMPlanner(Planner):
    """Registered as ``llm``.  ``chat_model`` (any LangChain chat model) overrides ``provider``."""

    name = "llm"

    def __init__(
        self,
        chat_model: BaseChatModel | None = None,
        *,
        provider: str = "ollama",
        model: str = "llama3.2",
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 1,
        temperature: float = 0.2,
        max_tokens: int = 512,
        structured: Literal["auto", "tools", "json_schema", "text"] = "auto",
        prompts_dir: Path | None = None,
    ) -> None:
        from promptloop.backends.rule_planner import RulePlanner

        if not 0 < timeout <= 600:
            raise InputError(f"llm timeout must be in (0, 600] seconds, got {timeout}")
        if not 0 <= retries <= 5:
            raise InputError(f"llm retries must be within [0, 5], got {retries}")
        if base_url is not None and urlsplit(base_url).scheme not in ("http", "https"):
            raise InputError("--llm-base-url must be an http(s) URL")
        self._templates = {n: load_template(n, prompts_dir) for n in TEMPLATE_NAMES}
        injected = chat_model is not None
        self.provider = "injected" if injected else provider
        self.model_name = type(chat_model).__name__ if injected else model
        self.base_url = base_url
        self.timeout, self.retries = float(timeout), int(retries)
        self._model: BaseChatModel = chat_model if chat_model is not None else make_chat_model(
            provider, model, base_url=base_url, api_key=api_key, timeout=timeout,
            temperature=temperature, max_tokens=max_tokens)
        self.structured = structured if structured != "auto" else self._auto_mode()
        self._rule = RulePlanner()
        # Bounded: one planner may serve a long-running server.
        self.outcomes: deque[dict[str, Any]] = deque(maxlen=256)
        self._counts = {"accepted": 0, "repaired": 0, "rejected": 0}
        self._lock = threading.Lock()
        self._answer_chars = 0

    def _auto_mode(self) -> str:
        from langchain_core.language_models import BaseChatModel

        if self.provider == "ollama":
            return "json_schema"  # Ollama constrains decoding to the schema
        if self.provider == "huggingface":
            return "text"
        has_tools = type(self._model).bind_tools is not BaseChatModel.bind_tools
        return "tools" if has_tools else "text"

    # -- talking to the model ----------------------------------------------------------------------
    def _answer(self, rendered: RenderedPrompt, schema: type[M]) -> M:
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [SystemMessage(rendered.system), HumanMessage(rendered.user)]
        if self.structured in ("tools", "json_schema"):
            method = "function_calling" if self.structured == "tools" else "json_schema"
            runnable = self._model.with_structured_output(schema, method=method, include_raw=True)
            try:
                out = _call_with_timeout(lambda: _invoke_untraced(runnable, messages), self.timeout)
            except Exception as exc:
                status = getattr(exc, "status_code", None)
                if self.structured != "tools" or not (isinstance(status, int) and 400 <= status < 500):
                    raise
                # Many OpenAI-compatible servers refuse tool definitions (a 4xx): ask for JSON text.
                self.structured = "text"
                return self._answer(rendered, schema)
            raw = out["raw"]
            calls = getattr(raw, "tool_calls", None) or []
            if calls:
                args = calls[0].get("args", {})
                self._answer_chars = len(json.dumps(args))
                if self._answer_chars > MAX_ANSWER_CHARS:
                    raise PlanRejected(f"answer longer than {MAX_ANSWER_CHARS} characters")
                return schema.model_validate(args)
            text = _text_of(raw)
        else:
            text = _text_of(_call_with_timeout(lambda: _invoke_untraced(self._model, messages), self.timeout))
        self._answer_chars = len(text)
        if len(text) > MAX_ANSWER_CHARS:
            raise PlanRejected(f"answer longer than {MAX_ANSWER_CHARS} characters")
        return schema.model_validate(_loads_json(text))

    def _ask(self, kind: str, rendered: RenderedPrompt, schema: type[M], accept: Callable[[M], Any]) -> Any:
        """Ask up to ``1 + retries`` times; return ``accept(answer)`` or raise the last failure."""
        started = time.perf_counter()
        last: Exception = PlanRejected("no answer")
        for attempt in range(1, self.retries + 2):
            self._answer_chars = 0
            try:
                result = accept(self._answer(rendered, schema))
            except _TimedOut:
                last = PlanRejected(f"model timed out after {self.timeout:g} s")
            except ValidationError as exc:
                bad = sorted({".".join(str(p) for p in e["loc"]) or "answer" for e in exc.errors()})
                last = PlanRejected(f"answer did not match the schema ({', '.join(bad)[:120]})")
            except ValueError as exc:  # JSON decoding (json.JSONDecodeError is a ValueError)
                if isinstance(exc, InputError):  # ConstraintViolation is an InputError
                    last = exc
                else:
                    last = PlanRejected("answer was not valid JSON")
            except GenerationError as exc:
                last = exc
            except Exception as exc:  # noqa: BLE001 - provider errors vary (HTTP, Ollama, torch); none may end a session
                last = PlanRejected(f"model error: {type(exc).__name__}")
            else:
                self._record(kind, "repaired" if isinstance(result, tuple) and result[1] else "accepted",
                             None, attempt, started)
                return result
        self._record(kind, "rejected", str(last), self.retries + 1, started)
        raise last

    def _record(self, kind: str, status: str, detail: str | None, tries: int, started: float) -> None:
        # Sizes and reasons only: the answer itself may echo the listener's words.
        with self._lock:
            self._counts[status] += 1
        self.outcomes.append({"call": kind, "status": status, "detail": detail, "tries": tries,
                              "answer_chars": self._answer_chars,
                              "seconds": round(time.perf_counter() - started, 3)})

    # -- Planner -----------------------------------------------------------------------------------
    def _common(self, context: PlanContext) -> dict[str, str]:
        from langchain_core.output_parsers import PydanticOutputParser

        prefs = context.preferences
        low, high = tempo_window(context)
        loudest = loudest_dynamics(prefs.loudness_ceiling_lufs)
        limits = f"tempo {low:.0f}-{high:.0f} bpm; loudest dynamics {loudest}"
        if prefs.gentle:
            limits += f"; {_GENTLE_RULES}"
        likes = "; ".join(f"{label}: {', '.join(terms)}" for label, terms in (
            ("instruments", prefs.instruments), ("genres", prefs.genres), ("words", prefs.extra)) if terms)
        return {
            "position": f"{context.segment_index + 1} of {context.segments}, {context.segment_seconds:g} s",
            "waypoint": _affect_text(context.waypoint),
            "limits": limits,
            "preferences": likes or "none given",
            "avoided": ", ".join(sorted(prefs.forbidden)) or "none",
            "max_prompt_chars": str(PROMPT_CAP),
            "format_instructions": PydanticOutputParser(pydantic_object=PlanDraft).get_format_instructions(),
        }

    def draft(self, context: PlanContext) -> MusicPlan:
        baseline = self._rule.draft(context)
        rendered = self._templates["draft_segment"].render(
            **self._common(context),
            listener=_affect_text(context.listener),
            target=_affect_text(context.target),
            previous=_plan_text(context.previous_plan),
        )
        plan, _ = self._ask("draft", rendered, PlanDraft, lambda d: checked_plan(d, baseline, context))
        return plan  # type: ignore[no-any-return]

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        baseline = self._rule.revise(plan, evaluation, context)
        feedback = "\n".join(
            f"- {f.attribute}: {f.direction} (measured {f.measured}, wanted {f.wanted}) {f.message}"
            for f in evaluation.feedback) or "- no specific finding"
        rendered = self._templates["revise_segment"].render(
            **self._common(context), plan=_plan_text(plan), score=f"{evaluation.score:.2f}", feedback=feedback)
        revised, _ = self._ask("revise", rendered, PlanDraft, lambda d: checked_plan(d, baseline, context))
        return revised  # type: ignore[no-any-return]

    # -- chat --------------------------------------------------------------------------------------
    def interpret_chat(self, message: str, state: ChatState) -> ChatUpdate | None:
        """A structured update for free text, or None when the model gave nothing usable."""
        from langchain_core.output_parsers import PydanticOutputParser

        from promptloop.chat import ChatUpdate

        prefs = state.preferences
        rendered = self._templates["interpret_chat"].render(
            listener=_affect_text(state.listener),
            target=_affect_text(state.target),
            segments="\n".join(f"{i + 1}. {p.prompt}" for i, p in enumerate(state.segments)) or "none yet",
            preferences=(f"likes: {', '.join((*prefs.instruments, *prefs.genres)) or 'nothing named'}; "
                         f"avoids: {', '.join(sorted(prefs.forbidden)) or 'nothing'}; "
                         f"ceiling {prefs.loudness_ceiling_lufs:g} LUFS; gentle {'on' if prefs.gentle else 'off'}"),
            message=message,
            format_instructions=PydanticOutputParser(pydantic_object=ChatDraft).get_format_instructions(),
        )

        def accept(d: ChatDraft) -> ChatUpdate:
            shift = (d.valence_shift or 0.0, d.arousal_shift or 0.0)
            return ChatUpdate(
                understood=d.understood, source="llm", feeling=(d.feeling or "").strip().lower() or None,
                listener_shift=shift if shift != (0.0, 0.0) else None,
                target=(d.target or "").strip().lower() or None,
                avoid=tuple(d.avoid), prefer=tuple(d.prefer), unprefer=tuple(d.less),
                loudness_db=d.loudness_db, gentle=d.gentle,
                like_segment=d.like_segment - 1 if d.like_segment is not None else None,
            )

        try:
            return self._ask("chat", rendered, ChatDraft, accept)  # type: ignore[no-any-return]
        except (GenerationError, InputError):
            return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
        url = urlsplit(self.base_url) if self.base_url else None
        return {
            "name": self.name,
            "provider": self.provider,
            "model": self.model_name,
            "base_url": f"{url.scheme}://{url.hostname}{':' + str(url.port) if url.port else ''}{url.path}" if url else None,
            "structured_output": self.structured,
            "timeout_s": self.timeout,
            "retries": self.retries,
            "templates": {n: t.version for n, t in self._templates.items()},
            "outcomes": counts,
            "calls": list(self.outcomes)[-32:],
        }
