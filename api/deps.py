"""The dependencies routes declare: ``Vigil`` (the app's state), ``Caller``, ``Staff``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from api.auth import SESSION_COOKIE, Principal
from api.errors import ApiError
from api.state import AppState
from api.threads import THREAD_ID_PATTERN, ThreadRef


def app_state(request: Request) -> AppState:
    st: AppState = request.app.state.vigil
    return st


Vigil = Annotated[AppState, Depends(app_state)]


def credential_of(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or request.cookies.get(SESSION_COOKIE)


def caller(request: Request, vigil: Vigil) -> Principal:
    try:
        return vigil.auth.authenticate(credential_of(request))
    except ApiError:
        vigil.metrics.refusals.labels("401").inc()
        raise


Caller = Annotated[Principal, Depends(caller)]


def staff(who: Caller, vigil: Vigil) -> Principal:
    if not who.staff:
        vigil.metrics.refusals.labels("403").inc()
        who.require("analyst", "admin", doing="the approvals inbox")
    return who


Staff = Annotated[Principal, Depends(staff)]


def thread_ref(
    thread_id: Annotated[
        str,
        Path(
            pattern=THREAD_ID_PATTERN,
            description=("Your thread's id; staff reach another owner's as <owner>~<id>."),
        ),
    ],
    who: Caller,
) -> ThreadRef:
    return ThreadRef.of(who, thread_id)


#: the path's thread, scoped to the caller (403 for a customer naming another's)
ThreadOf = Annotated[ThreadRef, Depends(thread_ref)]
