"""The dependencies routes declare: ``Vigil`` (the app's state), ``Caller``, ``Staff``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import SESSION_COOKIE, Principal
from api.errors import ApiError
from api.state import AppState
from api.threads import THREAD_ID_PATTERN, ThreadRef


def app_state(request: Request) -> AppState:
    st: AppState = request.app.state.vigil
    return st


Vigil = Annotated[AppState, Depends(app_state)]


#: how a caller may say who they are, declared so OpenAPI (and /docs' "Authorize") shows
#: them; none raises on its own: ``caller`` says what was missing
BEARER = HTTPBearer(
    auto_error=False, scheme_name="bearer", bearerFormat="API key or HS256 JWT",
    description="An API key, or a signed token (HS256 JWT with sub, role, iss, aud, iat, exp).",
)  # fmt: skip
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                       description="An API key.")  # fmt: skip
SESSION = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                       description="The console's session, from POST /auth/session.")  # fmt: skip


def caller(
    vigil: Vigil,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    key: Annotated[str | None, Depends(API_KEY)],
    session: Annotated[str | None, Depends(SESSION)],
) -> Principal:
    """The caller, from the first credential sent: bearer, then X-API-Key, then the cookie."""
    credential = (bearer.credentials.strip() if bearer else None) or key or session
    try:
        return vigil.auth.authenticate(credential)
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
