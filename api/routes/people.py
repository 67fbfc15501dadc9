"""Who am I, console sessions, and customer profiles (a customer sees only their own)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import SESSION_COOKIE, closed_session_key
from api.deps import Caller, Vigil
from api.errors import ApiError, ForbiddenError, NotFoundError
from tools.customers import visible

router = APIRouter(tags=["people"])


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: str = Field(min_length=1, max_length=4096, description="An API key or token.")


@router.get("/me")
async def me(who: Caller) -> dict[str, Any]:
    return {"role": who.role, "subject": who.subject, "customer_id": who.customer_id}


@router.post("/auth/session")
async def open_session(body: SessionRequest, response: Response, vigil: Vigil) -> dict[str, Any]:
    """Trade a key or token for an HttpOnly session cookie (the console's EventSource
    cannot send headers)."""
    who = vigil.auth.authenticate(body.credential)
    ttl = vigil.settings.api_token_ttl_s
    response.set_cookie(
        SESSION_COOKIE, vigil.auth.mint(who, ttl, session=True), max_age=ttl, httponly=True,
        samesite="strict", secure=False, path="/",
    )  # fmt: skip
    return {"role": who.role, "subject": who.subject, "customer_id": who.customer_id}


@router.delete("/auth/session", status_code=204)
async def close_session(request: Request, response: Response, vigil: Vigil) -> None:
    """Sign out: the cookie is cleared, and the session it held stops working at once
    (a copy of it is refused too)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with contextlib.suppress(ApiError):
            await asyncio.to_thread(vigil.auth.authenticate, cookie)  # only sessions it issued
            found = vigil.auth.session_of(cookie)
            if found is not None:
                sid, exp = found
                ttl = max(1, math.ceil(exp - time.time()))
                key = closed_session_key(vigil.settings.redis_prefix, sid)
                await vigil.deps.aredis.set(key, "1", ex=ttl)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/customers/{customer_id}/profile")
async def profile(
    customer_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")],
    who: Caller,
    vigil: Vigil,
) -> dict[str, Any]:
    """A customer reads their own profile (the fields chat may see); staff read any, whole."""
    if who.role == "customer" and who.customer_id != customer_id:
        raise ForbiddenError("a customer can read only their own profile")
    found = await asyncio.to_thread(vigil.deps.tools.profiles.get, customer_id)
    if found is None:
        raise NotFoundError(f"no customer {customer_id}")
    return visible(found, "chat" if who.role == "customer" else "analyst")
