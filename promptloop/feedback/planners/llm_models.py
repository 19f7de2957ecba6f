"""Chat models for the ``llm`` planner: building a LangChain model for a provider, and calling it.

Providers (``provider=``): ``ollama`` (langchain-ollama), ``openai`` (langchain-openai; any
OpenAI-compatible server via ``base_url``) and ``huggingface`` (langchain-huggingface, a local model
folder; weights are never downloaded).  Calls run with a time-out and with LangSmith tracing off.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptloop.errors import BackendUnavailable, InputError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "PLAIN_CHAT_TEMPLATE",
    "PROVIDERS",
    "CallTimedOut",
    "call_with_timeout",
    "invoke_untraced",
    "loads_json",
    "make_chat_model",
    "text_of",
]

PROVIDERS = ("ollama", "openai", "huggingface")
# Models with no chat template of their own get a plain one (tiny or base models).
PLAIN_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


class CallTimedOut(Exception):
    """A model call outlasted its time-out (its thread is abandoned)."""


def call_with_timeout(func: Callable[[], Any], seconds: float) -> Any:
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
        raise CallTimedOut
    if "error" in box:
        raise box["error"]
    return box["value"]


def invoke_untraced(runnable: Any, messages: list[Any]) -> Any:
    """``runnable.invoke`` with LangSmith tracing off: prompts carry listener (health) data, which
    must not leave the machine because some environment variable turned tracing on."""
    from langsmith.run_helpers import tracing_context

    with tracing_context(enabled=False):
        return runnable.invoke(messages)


def text_of(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return content if isinstance(content, str) else str(content)


def loads_json(text: str) -> Any:
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
