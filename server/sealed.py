"""Serving sealed files (audio kept encrypted at rest) as plain bytes to their owner, with range
requests: only the chunks a range covers are opened (``Vault.read_range``), so seeking in a long mix
costs what the range costs.

One range per request (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``); a request for several ranges gets
the whole file (RFC 9110 lets a server ignore Range), one that cannot be satisfied gets 416.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request
from starlette.responses import Response, StreamingResponse

from promptloop.service.crypto import Vault

__all__ = ["sealed_response"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _span(header: str | None, size: int) -> tuple[int, int] | None | str:
    """``(start, stop)`` of a satisfiable single range, None for the whole file, "416" otherwise."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges, or a unit we do not serve: the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last n bytes
        n = int(last)
        return (max(0, size - n), size) if n > 0 and size > 0 else "416"
    start = int(first)
    stop = min(size, int(last) + 1) if last else size
    if start >= size or stop <= start:
        return "416"
    return start, stop


def sealed_response(vault: Vault, path: Path, request: Request, media_type: str, filename: str,
                    headers: dict[str, str] | None = None) -> Response:
    """The plain content of the sealed file ``path``: 200, 206 for a range, 416 for an impossible one."""
    size = vault.plain_size(path)
    base = {"accept-ranges": "bytes", "content-disposition": f'attachment; filename="{filename}"', **(headers or {})}
    span = _span(request.headers.get("range"), size)
    if span == "416":
        return Response(status_code=416, headers={**base, "content-range": f"bytes */{size}"})
    start, stop = span if isinstance(span, tuple) else (0, size)
    if request.method == "HEAD":
        body = Response(status_code=206 if isinstance(span, tuple) else 200, media_type=media_type, headers=base)
        body.headers["content-length"] = str(stop - start)
        return body
    chunks = vault.read_range(path, start, stop)
    first = next(chunks, b"")  # a damaged file fails here, before the status line is sent

    def stream():  # type: ignore[no-untyped-def]
        yield first
        yield from chunks

    response = StreamingResponse(stream(), status_code=206 if isinstance(span, tuple) else 200,
                                 media_type=media_type, headers={**base, "content-length": str(stop - start)})
    if isinstance(span, tuple):
        response.headers["content-range"] = f"bytes {start}-{stop - 1}/{size}"
    return response
