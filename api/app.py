"""``create_app(settings, deps)``: the FastAPI app. The service shell builds ``deps`` from
settings (``vigil.wiring.web``); tests build their own (a scripted model, their Redis)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError

from api.approvals import ApprovalFeed
from api.auth import Authenticator, closed_session_key
from api.errors import ApiError, UnavailableError
from api.graph_runs import ChatGraphs
from api.metrics import ApiMetrics
from api.middleware import BodyGuard, RequestContext
from api.resources import ApiDeps
from api.routes import approvals, chat, console, docs, ops, people, threads
from api.runs import RunHub
from api.state import AppState
from api.threads import ThreadStore
from ingestion import tracing
from ingestion.errors import IngestionError, TransientError
from ingestion.kafka import ensure_topics
from tools.approvals import ApprovalLedger, PendingApprovals
from vigil.settings import Settings

log = logging.getLogger("vigil.api")


def create_app(settings: Settings, deps: ApiDeps) -> FastAPI:
    tracing.configure(settings, "api")  # VIGIL_OTEL_ENDPOINT: this process's traces
    metrics = ApiMetrics(deps.gateway.metrics)
    prefix = settings.redis_prefix
    state = AppState(
        settings=settings,
        deps=deps,
        auth=Authenticator(
            settings.api_keys,
            settings.api_token_secret.get_secret_value() if settings.api_token_secret else None,
            token_ttl_s=settings.api_token_ttl_s,
            dev_keys=settings.api_dev_keys,
            revoked=lambda sid: bool(deps.redis.exists(closed_session_key(prefix, sid))),
            issuer=settings.api_token_issuer,
            audience=settings.api_token_audience,
        ),
        metrics=metrics,
        hub=RunHub(
            deps.aredis,
            prefix=prefix,
            retention_s=settings.api_stream_retention_s,
            grace_s=settings.api_reconnect_grace_s,
            timeout_s=settings.api_run_timeout_s,
            metrics=metrics,
        ),
        threads=ThreadStore(deps.aredis, prefix=prefix),
        graphs=ChatGraphs(
            deps,
            passages=settings.api_chat_passages,
            history=settings.api_chat_history,
            min_relevance=settings.api_chat_min_relevance,
        ),
        feed=ApprovalFeed(
            PendingApprovals.of(settings, deps.redis),
            ApprovalLedger.of(settings, deps.redis),
            settings.api_approvals_poll_s,
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not state.auth.configured:
            log.warning("no API keys or token secret configured: every request gets 401")
        try:  # whichever process starts first creates the topics (the agents do too)
            created = await asyncio.to_thread(ensure_topics, settings)
            if created:
                log.info("created %d topics: %s", len(created), ", ".join(created))
        except IngestionError as exc:  # the API serves; /ready names Kafka until it answers
            log.warning("topics not ensured at start: %s", exc)
        yield
        await state.hub.close()
        await state.feed.close()

    app = FastAPI(
        title="Vigil",
        version="0.1.0",
        summary="Customer chat over SSE, the approvals inbox, threads and runs of Vigil's graphs.",
        lifespan=lifespan,
        docs_url=None,  # served with their assets from the package (api.routes.docs)
        redoc_url=None,
    )
    app.state.vigil = state

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    def unavailable(dependency: str, exc: Exception) -> JSONResponse:
        err = UnavailableError(dependency, f"{type(exc).__name__}: {exc}"[:500])
        log.warning("%s", err.detail)
        return JSONResponse({"detail": err.detail}, status_code=err.status, headers=err.headers)

    @app.exception_handler(redis.exceptions.ConnectionError)
    @app.exception_handler(redis.exceptions.TimeoutError)
    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        return unavailable("redis", exc)

    @app.exception_handler(TransientError)
    @app.exception_handler(KafkaError)
    async def kafka_down(request: Request, exc: Exception) -> JSONResponse:
        return unavailable("kafka", exc)

    for router in (chat.router, threads.router, approvals.router, people.router, ops.router,
                   console.router, docs.router):  # fmt: skip
        app.include_router(router)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Last-Event-ID",
                           "X-Request-ID"],
            expose_headers=["Location", "X-Run-Id", "X-Request-ID"],
        )  # fmt: skip
    app.add_middleware(BodyGuard, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(RequestContext, metrics=metrics)
    return app
