"""Per-user limits: how often, how much, how big.

* **Request rate** — every ``/v1/`` request is charged to a token bucket keyed by the caller's bearer
  token (or cookie; anonymous callers by address), refilled at ``rate_limit_per_minute``.  An empty
  bucket answers 429 with ``Retry-After`` before the request reaches a route or the database.
* **Generation rate** — each user may queue at most ``generate_per_minute`` generation jobs a minute.
* **Audio quota** — each user may generate at most ``audio_quota_seconds`` of audio in any rolling 24
  hours.  Generated seconds are recorded in a ``usage`` ledger (one row per committed segment) so the
  quota survives restarts and deleting sessions; seconds still owed to queued or running jobs count
  against it too, so a burst of jobs cannot overdraw it.
* **Request size** — a body over ``max_request_bytes`` is refused with 413 while it is being read
  (the declared ``Content-Length`` first, then the bytes actually received), so memory stays bounded;
  a JSON body that is not UTF-8 gets the same 422 as any other undecodable JSON.

>>> bucket = TokenBuckets(per_minute=60)
>>> bucket.take("k") is None
True
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DB

from promptloop.errors import QuotaExceeded, RateLimited
from promptloop.service.store import JobRow, SessionRow, UsageRow, now
from promptloop.wiring.settings import Settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LimitConfig", "Limits", "RequestGuard", "TokenBuckets", "UsageRow"]

WINDOW = _dt.timedelta(hours=24)


class TokenBuckets:
    """Thread-safe token buckets: ``per_minute`` tokens a minute, bursts up to ``per_minute``."""

    def __init__(self, per_minute: int, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Spend one token; None when allowed, else the whole seconds until one is back."""
        t = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, t))
            tokens = min(self.capacity, tokens + (t - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, t)
                return max(1, int((1.0 - tokens) / self.rate + 0.999))
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory: forgetting buckets only ever lets more through
            self._buckets[key] = (tokens - 1.0, t)
            return None


@dataclass(frozen=True)
class LimitConfig:
    requests_per_minute: int
    generations_per_minute: int
    audio_quota_seconds: float
    max_request_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> LimitConfig:
        return cls(settings.rate_limit_per_minute, settings.generate_per_minute,
                   settings.audio_quota_seconds, settings.max_request_bytes)


class Limits:
    """The limits of one service; held by :class:`~promptloop.service.engine.Service` as ``limits``."""

    def __init__(self, config: LimitConfig) -> None:
        self.config = config
        self.requests = TokenBuckets(config.requests_per_minute)
        self.generations = TokenBuckets(config.generations_per_minute)

    def check_request(self, key: str) -> None:
        wait = self.requests.take(key)
        if wait is not None:
            raise RateLimited(f"too many requests (at most {self.config.requests_per_minute} a minute)", wait)

    def used_seconds(self, db: DB, user_id: int) -> float:
        """Audio generated in the last 24 hours plus what running or queued jobs may still make."""
        since = now() - WINDOW
        done = db.scalar(select(func.coalesce(func.sum(UsageRow.seconds), 0.0))
                         .where(UsageRow.user_id == user_id, UsageRow.created > since)) or 0.0
        owed = 0.0
        rows = db.execute(select(JobRow.total, JobRow.done, SessionRow.spec)
                          .join(SessionRow, SessionRow.id == JobRow.session_id)
                          .where(JobRow.user_id == user_id, JobRow.status.in_(("queued", "running"))))
        for total, finished, spec in rows:
            owed += max(0, total - finished) * float(_spec(spec)["segment_seconds"])
        return float(done) + owed

    def check_generation(self, db: DB, user_id: int, seconds: float) -> None:
        """Refuse a generation job of ``seconds`` audio that would break the rate or the quota."""
        quota = self.config.audio_quota_seconds
        used = self.used_seconds(db, user_id)
        if used + seconds > quota:
            oldest = db.scalar(select(func.min(UsageRow.created))
                               .where(UsageRow.user_id == user_id, UsageRow.created > now() - WINDOW))
            wait = int((oldest + WINDOW - now()).total_seconds()) + 1 if oldest else 60
            raise QuotaExceeded(f"the quota of {quota:.0f} s of generated audio per 24 hours is spent "
                                f"({used:.0f} s used or reserved, {seconds:.0f} s asked)", max(1, min(wait, 86400)))
        retry = self.generations.take(f"user:{user_id}")
        if retry is not None:
            raise RateLimited(f"too many generation jobs (at most {self.config.generations_per_minute} a minute)", retry)

    @staticmethod
    def record(db: DB, user_id: int, seconds: float) -> None:
        """Charge ``seconds`` of generated audio to the user (committed with the segment)."""
        db.add(UsageRow(user_id=user_id, seconds=float(seconds)))


def _spec(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)


def caller_key(scope: Scope) -> str:
    """Who is calling: a digest of the bearer token or cookie, else the client address."""
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"")
    if auth[:7].lower() == b"bearer ":
        return "t:" + hashlib.sha256(auth[7:].strip()).hexdigest()
    for part in headers.get(b"cookie", b"").split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == b"promptloop_token" and value:
            return "t:" + hashlib.sha256(value).hexdigest()
    client = scope.get("client") or ("unknown", 0)
    return f"a:{client[0]}"


class RequestGuard:
    """ASGI middleware: request size bound and per-caller request rate, before any route runs."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.config.max_request_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _reply(send, 413, f"the request body is over the limit of {limit} bytes")
            return
        if scope["path"].startswith("/v1/"):
            try:
                self.limits.check_request(caller_key(scope))
            except RateLimited as exc:
                await _reply(send, 429, str(exc), {"retry-after": str(exc.retry_after)})
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # read the body here (at most ``limit`` bytes, whatever Content-Length claimed), then replay it
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await _reply(send, 413, f"the request body is over the limit of {limit} bytes")
                return
        if b"json" in dict(scope.get("headers") or []).get(b"content-type", b""):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:  # FastAPI would answer an undocumented 400
                await _reply(send, 422, [{"loc": ["body"], "msg": "the body is not UTF-8 JSON", "type": "json_invalid"}])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _reply(send: Send, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
