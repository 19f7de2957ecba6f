"""/v1/jobs: status, progress and cancel of long work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from ..deps import CurrentUser, ServiceDep
from ..schemas import JobOut
from .sessions import E401, E404, E422

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
JobId = Annotated[str, Path(description="a job id")]


@router.get("", response_model=list[JobOut], responses={**E401, **E422})
def list_jobs(user: CurrentUser, service: ServiceDep, limit: Annotated[int, Query(ge=1, le=100)] = 50,
              offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> list[dict[str, Any]]:
    return service.list_jobs(user, limit, offset)


@router.get("/{job_id}", response_model=JobOut, responses={**E401, **E404})
def get_job(job_id: JobId, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    return service.get_job(user, job_id)


@router.post("/{job_id}/cancel", response_model=JobOut, responses={**E401, **E404})
def cancel_job(job_id: JobId, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """Cancel a queued job (its slot frees at once) or a running one (it stops at its next step)."""
    return service.cancel_job(user, job_id)
