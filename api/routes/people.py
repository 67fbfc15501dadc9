"""Who am I, console sessions, and customer profiles (a customer sees only their own)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import SESSION_COOKIE
from api.deps import Caller, Vigil
from api.errors import ForbiddenError, NotFoundError
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
async def close_session(response: Response) -> None:
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
