"""Who a request comes from, as the gateway names it to the services behind it.

The gateway authenticates every public call and forwards it with
`x-fiscus-principal: <key id>:<role>`; it never passes on a client's own copy of
that header. The services are internal (reachable only from the gateway and from
processes inside the deployment), so they take the header as given and check
nothing else. A request without the header comes from inside the deployment (an
operator's tool, a test): it is an internal caller, who sees everything and owns
nothing. Services that must know an owner (webhooks) refuse it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header

from shared.problems import ProblemError

PRINCIPAL_HEADER = "x-fiscus-principal"
ADMIN = "admin"
READONLY = "readonly"


@dataclass(frozen=True)
class Caller:
    """The API key (or token subject) a request comes from; `key_id` None: internal."""

    key_id: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def owner(self) -> str | None:
        """What a resource this caller creates records as its owner."""
        return self.key_id

    def may_see(self, owner: str | None) -> bool:
        """Whether a resource owned by `owner` is visible to this caller."""
        return self.is_admin or (owner is not None and owner == self.key_id)


INTERNAL = Caller(key_id=None, role=ADMIN)


def caller_of(header: str | None) -> Caller | None:
    """The caller named by an `x-fiscus-principal: <key_id>:<role>` header."""
    if not header:
        return None
    key_id, separator, role = header.rpartition(":")
    if not separator or not key_id or not role:
        return None
    return Caller(key_id=key_id, role=role)


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "Forbidden", detail, kind="forbidden")


def _current(
    x_fiscus_principal: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    if x_fiscus_principal is None:
        return INTERNAL
    caller = caller_of(x_fiscus_principal)
    if caller is None:
        raise ProblemError(401, "Unauthorized", "the caller is not named", kind="unauthorized")
    return caller


def _writing(caller: Annotated[Caller, Depends(_current)]) -> Caller:
    if caller.role == READONLY:
        raise forbidden("a readonly key cannot change anything")
    return caller


# The caller of a request; an internal one when the gateway did not name any.
CallerDep = Annotated[Caller, Depends(_current)]
# The same, refused with 403 when it may only read.
WritingCallerDep = Annotated[Caller, Depends(_writing)]
