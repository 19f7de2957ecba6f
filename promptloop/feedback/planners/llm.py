"""The ``llm`` planner: LangChain chat models write and rewrite segment plans, and read chat.

Chat models are built and called in :mod:`.llm_models`; chat reading lives in :mod:`.llm_chat`.
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
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptloop.acquisition.affect import Affect
from promptloop.errors import (
    ConstraintViolation,
    GenerationError,
    InputError,
    PlanRejected,
)
from promptloop.feedback.base import (
    ChatInterpreter,
    ChatState,
    ChatUpdate,
    Evaluation,
    PlanContext,
    Planner,
)
from promptloop.feedback.planners.llm_chat import (
    ChatDraft,
    affect_text,
    chat_prompt_variables,
    update_from_draft,
)
from promptloop.feedback.planners.llm_models import (
    CallTimedOut,
    call_with_timeout,
    invoke_untraced,
    loads_json,
    make_chat_model,
    text_of,
)
from promptloop.feedback.templates import RenderedPrompt, load_template
from promptloop.representation.plan import MusicPlan, tempo_for
from promptloop.representation.plan_checks import (
    BPM_WORDS,
    check_prompt,
    enforce_constraints,
    loudest_dynamics,
)
from promptloop.representation.vocabulary import canonical, covered_words

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


__all__ = ["TEMPLATE_NAMES", "LLMPlanner", "PlanDraft", "PlanRejected", "checked_plan", "tempo_window"]

TEMPLATE_NAMES = ("draft_segment", "revise_segment", "interpret_chat")
PROMPT_CAP = 300  # MusicGen was trained on short descriptions
RATIONALE_CAP = 200
MAX_ANSWER_CHARS = 6000  # a plan is a few hundred characters; more is a runaway answer
TEMPO_PER_AROUSAL = 40.0  # BPM per unit of arousal, the slope of plan.tempo_for above 0
_SAFE_TEXT = re.compile(r"^[\w ,.;:'()/#+&%-]+$")
_INSTRUCTION_WORDS = re.compile(
    r"\b(ignore|disregard|instructions?|system prompt|assistant|jailbreak|override|you are|you must)\b", re.I)
_GENTLE_RULES = ("gentle mode ON: soft attacks, dark warm timbre, no percussion, bells, birds or "
                 "high-pitched sounds, nothing harsh or sudden")
M = TypeVar("M", bound=BaseModel)


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


# -- checking a model's draft -----------------------------------------------------------------------
def tempo_window(context: PlanContext) -> tuple[float, float]:
    """Tempi a plan may use: near the waypoint's tempo and one step from the previous plan's, inside
    the listener's comfortable tempo range (at its edge when the waypoint's tempo lies outside it)."""
    half = max(8.0, TEMPO_PER_AROUSAL * context.max_step)
    centre = tempo_for(context.waypoint.arousal)
    low, high = centre - half, centre + half
    prev = context.previous_plan
    if prev is not None and max(low, prev.tempo_bpm - half) <= min(high, prev.tempo_bpm + half):
        low, high = max(low, prev.tempo_bpm - half), min(high, prev.tempo_bpm + half)
    low, high = max(40.0, round(low)), min(180.0, round(high))
    span = context.preferences.tempo_range_bpm
    if span is not None:
        low, high = min(max(low, span[0]), span[1]), max(min(high, span[1]), span[0])
    return low, high


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
    if draft.valence is not None and draft.arousal is not None:
        off = Affect(draft.valence, draft.arousal).distance(context.waypoint)
        if off > context.max_step + 1e-6:
            raise ConstraintViolation(f"plan aims {off:.2f} away from the waypoint (max step {context.max_step})")

    fields = baseline.model_dump()
    fields.update({k: v for k, v in draft.model_dump(exclude={"valence", "arousal"}).items() if v is not None})
    fields["prompt"] = prompt
    for name in ("instruments", "textures"):
        terms = [canonical(t) for t in fields[name] if isinstance(t, str) and _SAFE_TEXT.match(t) and len(t) <= 40]
        kept = [t for t in terms if t not in covered_words(forbidden)][:6]  # "strings" covers "cello"
        if len(kept) != len(fields[name]):
            notes.append(f"dropped avoided or unusable {name}")
        fields[name] = tuple(kept)
    if not fields["instruments"]:
        fields["instruments"] = baseline.instruments
    genre = fields["genre"]
    if not isinstance(genre, str) or not _SAFE_TEXT.match(genre) or len(genre) > 40 or canonical(genre) in forbidden:
        fields["genre"] = baseline.genre
        notes.append("replaced avoided or unusable genre")
    low, high = tempo_window(context)
    tempo = float(fields["tempo_bpm"])
    if not low <= tempo <= high:
        fields["tempo_bpm"] = min(high, max(low, tempo))
        fields["prompt"] = BPM_WORDS.sub(f"{fields['tempo_bpm']:.0f} bpm", prompt)
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
    plan, repaired = enforce_constraints(plan, prefs)
    repairs = [r.note for r in repaired]
    if repairs:
        plan = plan.model_copy(update={"rationale": f"{plan.rationale} [repaired: {'; '.join(repairs)}]"[:500]})
    return plan, notes + repairs


# -- the planner ------------------------------------------------------------------------------------
def _plan_text(plan: MusicPlan | None) -> str:
    if plan is None:
        return "none"
    return (f"prompt: {plan.prompt}; tempo {plan.tempo_bpm:.0f} bpm; key {plan.key} {plan.mode}; "
            f"instruments {', '.join(plan.instruments) or 'none'}; textures {', '.join(plan.textures) or 'none'}; "
            f"dynamics {plan.dynamics}; density {plan.density:.2f}; brightness {plan.brightness:.2f}")


class LLMPlanner(Planner, ChatInterpreter):
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
        from promptloop.feedback.planners.rule import RulePlanner

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
                out = call_with_timeout(lambda: invoke_untraced(runnable, messages), self.timeout)
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
            text = text_of(raw)
        else:
            text = text_of(call_with_timeout(lambda: invoke_untraced(self._model, messages), self.timeout))
        self._answer_chars = len(text)
        if len(text) > MAX_ANSWER_CHARS:
            raise PlanRejected(f"answer longer than {MAX_ANSWER_CHARS} characters")
        return schema.model_validate(loads_json(text))

    def _ask(self, kind: str, rendered: RenderedPrompt, schema: type[M], accept: Callable[[M], Any]) -> Any:
        """Ask up to ``1 + retries`` times; return ``accept(answer)`` or raise the last failure."""
        started = time.perf_counter()
        last: Exception = PlanRejected("no answer")
        for attempt in range(1, self.retries + 2):
            self._answer_chars = 0
            try:
                result = accept(self._answer(rendered, schema))
            except CallTimedOut:
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
            "waypoint": affect_text(context.waypoint),
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
            listener=affect_text(context.listener),
            target=affect_text(context.target),
            previous=_plan_text(context.previous_plan),
        )
        plan, _ = self._ask("draft", rendered, PlanDraft, lambda d: checked_plan(d, baseline, context))
        return plan

    def revise(self, plan: MusicPlan, evaluation: Evaluation, context: PlanContext) -> MusicPlan:
        baseline = self._rule.revise(plan, evaluation, context)
        feedback = "\n".join(
            f"- {f.attribute}: {f.direction} (measured {f.measured}, wanted {f.wanted}) {f.message}"
            for f in evaluation.feedback) or "- no specific finding"
        rendered = self._templates["revise_segment"].render(
            **self._common(context), plan=_plan_text(plan), score=f"{evaluation.score:.2f}", feedback=feedback)
        revised, _ = self._ask("revise", rendered, PlanDraft, lambda d: checked_plan(d, baseline, context))
        return revised

    # -- chat --------------------------------------------------------------------------------------
    def interpret_chat(self, message: str, state: ChatState) -> ChatUpdate | None:
        """A structured update for free text, or None when the model gave nothing usable."""
        from langchain_core.output_parsers import PydanticOutputParser

        rendered = self._templates["interpret_chat"].render(
            **chat_prompt_variables(message, state),
            format_instructions=PydanticOutputParser(pydantic_object=ChatDraft).get_format_instructions(),
        )
        try:
            return self._ask("chat", rendered, ChatDraft, update_from_draft)
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
