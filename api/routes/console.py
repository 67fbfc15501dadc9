"""The web console: plain HTML and a little JS, served as files (no build step)."""

from __future__ import annotations

import asyncio
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.world import outline

router = APIRouter(include_in_schema=False)

_STATIC = resources.files("api") / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console")


@router.get("/console")
async def console() -> HTMLResponse:
    return HTMLResponse((_STATIC / "console.html").read_text(encoding="utf-8"))


@router.get("/console/world.json")
async def world() -> Response:
    """The case map's world outline (``api.world``), from installed data."""
    body = await asyncio.to_thread(outline)
    return Response(body, media_type="application/json",
                    headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip


@router.get("/console/{name}")
async def asset(name: str) -> Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    entry = _STATIC / name
    if suffix not in _TYPES or "/" in name or not entry.is_file():
        return Response(f"no console file {name}", status_code=404, media_type="text/plain")
    return Response(entry.read_text(encoding="utf-8"), media_type=_TYPES[suffix])
