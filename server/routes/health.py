"""/healthz (alive), /readyz (backends loaded, queue not saturated), /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..deps import ServiceDep
from ..schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


# The health routes only read memory: async, so they never wait for (or take) a request thread, and
# answer while the thread pool is busy.
@router.get("/healthz", response_model=HealthOut)
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut, "description": "not ready"}})
async def readyz(request: Request, service: ServiceDep) -> JSONResponse:
    pool = service.pool
    settled = getattr(request.app.state, "settled", None)
    settling = service.ready and settled is not None and not settled.is_set()  # the heap freeze is running
    ready = service.ready and not settling and not pool.saturated
    detail = (service.ready_detail if not service.ready else "settling after warm-up" if settling
              else "queue saturated" if pool.saturated else "ok")
    body = ReadyOut(ready=ready, detail=detail, queued=pool.queued, running=pool.running,
                    queue_size=pool.queue_size, workers=pool.kind)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
