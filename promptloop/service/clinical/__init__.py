"""The clinical side of promptloop: roles, consent, the access log, programmes with locked
constraints, review of planned sessions, self-reported outcomes and progress reports.

>>> clinical = Clinical(service)                                        # doctest: +SKIP
>>> clinical.oversight.invite(therapist, note="", days=7)["code"]       # doctest: +SKIP

Modules: :mod:`.models` (tables), :mod:`.roles`, :mod:`.consent` (invitations, grants, the access
check), :mod:`.audit` (access log), :mod:`.programmes` and :mod:`.locks`, :mod:`.proposals` (review
before play), :mod:`.outcomes` (self-reports), :mod:`.progress` and :mod:`.report`, :mod:`.guard`
(hooks into the session code), :mod:`.data` (export and erase); :mod:`.oversight` is what a
therapist does, :mod:`.participation` what a listener does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptloop.service.clinical.consent import SCOPES
from promptloop.service.clinical.guard import ClinicalGuard
from promptloop.service.clinical.locks import LOCKABLE, Locks
from promptloop.service.clinical.oversight import Oversight
from promptloop.service.clinical.participation import Participation
from promptloop.service.clinical.programmes import ProgrammeSpec, StepSpec
from promptloop.service.clinical.roles import ROLES, set_role_by_name
from promptloop.service.store import User

if TYPE_CHECKING:
    from promptloop.service.engine import Service

__all__ = ["LOCKABLE", "ROLES", "SCOPES", "Clinical", "ClinicalGuard", "Locks", "ProgrammeSpec", "StepSpec"]


class Clinical:
    """The clinical operations over one :class:`~promptloop.service.Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.oversight = Oversight(service)
        self.participation = Participation(service)

    def set_role(self, admin: User | None, name: str, role: str) -> User:
        """Give the user ``name`` a role; ``admin`` None is the local command line."""
        from promptloop.service.clinical.roles import require_role

        with self.service.db() as db:
            if admin is not None:
                require_role(db, admin, "admin")
            user = set_role_by_name(db, name, role)
            db.commit()
            return user

    def role(self, user: User) -> str:
        from promptloop.service.clinical.roles import role_of

        with self.service.db() as db:
            return role_of(db, user)
