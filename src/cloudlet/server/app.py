"""`create_app(settings)`: the ASGI app with every face mounted, and first-start preparation."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from cloudlet import __version__
from cloudlet.server import debug, health
from cloudlet.server.accounts import principal_cache
from cloudlet.server.accounts.routes import router as accounts_router
from cloudlet.server.core import migrate
from cloudlet.server.core.db import Database
from cloudlet.server.datasets.gallery_routes import router as galleries_router
from cloudlet.server.datasets.routes import router as datasets_router
from cloudlet.server.events.routes import router as events_router
from cloudlet.server.faces import amigocloud, iobeam, iotile, rinocloud
from cloudlet.server.faces.influx import router as influx_router
from cloudlet.server.files import housekeeping
from cloudlet.server.files.routes import router as files_router
from cloudlet.server.files.transfer_routes import router as file_transfers_router
from cloudlet.server.http import problems
from cloudlet.server.http.idempotency import Idempotency
from cloudlet.server.http.middleware import BodyLimit, FirstParamWins
from cloudlet.server.orgs.routes import router as orgs_router
from cloudlet.server.projects.routes import router as projects_router
from cloudlet.server.services import Services
from cloudlet.server.settings import Settings
from cloudlet.server.sql.routes import router as sql_router
from cloudlet.server.timeseries import debug as timeseries_debug
from cloudlet.server.timeseries.ingest_routes import router as ingest_router
from cloudlet.server.timeseries.query_routes import router as query_router
from cloudlet.server.timeseries.routes import router as timeseries_router
from cloudlet.server.timeseries.write_asgi import PointWrites

log = logging.getLogger(__name__)
API = "/api/v1"
# point writes enforce their own, larger limit (CLOUDLET_MAX_WRITE_BODY)
WRITE_PATHS = re.compile(
    rf"^({API}/projects/[^/]+/(points|write)|/write|/api/v2/write|{iobeam.PREFIX}/v1/imports)$")
# bodies that enforce limits of their own (point writes, dataset imports)
UNCAPPED_PATHS = re.compile(rf"{WRITE_PATHS.pattern}|^{API}/projects/[^/]+/imports$")


def prepare_installation(settings: Settings) -> tuple[str, str, str] | None:
    """Migrate the database and, on an empty one, create the first admin.

    Runs once per start, before any worker forks. Returns (username, password, token) the
    first time, for the caller to show once; None afterwards.
    """
    settings.prepare()
    db = Database(settings.db_url, busy_timeout=settings.db_busy_timeout)
    try:
        migrate.upgrade(db)
        services = Services.build(settings, db)
        created = services.accounts.bootstrap_admin(
            settings.admin_username, settings.admin_password
        )
        services.idempotency.purge_expired()
        housekeeping.run_once(services)
        services.imports.recover()
    finally:
        db.dispose()
    if created is None:
        return None
    return settings.admin_username, created[0], created[1]


def native_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    router.include_router(health.router)
    router.include_router(accounts_router)
    router.include_router(orgs_router)
    router.include_router(projects_router)
    router.include_router(events_router)
    router.include_router(timeseries_router)
    router.include_router(ingest_router)
    router.include_router(query_router)
    router.include_router(files_router)
    router.include_router(file_transfers_router)
    router.include_router(datasets_router)
    router.include_router(galleries_router)
    router.include_router(sql_router)
    if settings.debug_endpoints:
        router.include_router(debug.router)
        router.include_router(timeseries_debug.router)
    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = (settings or Settings()).prepare()
    db = Database(settings.db_url, busy_timeout=settings.db_busy_timeout)
    services = Services.build(settings, db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.events.bus.start()
        sweeper = housekeeping.start(services)
        services.ingest.parsers.start()
        revocations = await principal_cache.follow_revocations(services.events.bus,
                                                               services.tokens.cache)
        gc.freeze()  # what start-up made lives as long as the process: keep it out of the
        # full collections, which otherwise stall a busy ingest for 50-100 ms now and then
        yield
        await principal_cache.stop(revocations)
        services.ingest.close()
        await housekeeping.stop(sweeper)
        services.imports.close()
        await services.events.bus.close()
        services.sql.engine.close()
        db.dispose()

    app = FastAPI(
        title="Cloudlet",
        version=__version__,
        description="A self-hosted data cloud for connected devices and scientific data.",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    problems.install(app)
    app.include_router(native_router(settings), prefix=API)
    app.include_router(influx_router)
    app.mount(rinocloud.PREFIX, rinocloud.create_face(services))
    app.mount(iotile.PREFIX, iotile.create_face(services))
    app.mount(iobeam.PREFIX, iobeam.create_face(services))
    app.mount(amigocloud.PREFIX, amigocloud.create_face(services))
    app.add_middleware(Idempotency, store=services.idempotency, max_body=settings.max_json_body,
                       exempt=WRITE_PATHS)
    app.add_middleware(BodyLimit, limit=settings.max_json_body, exempt=UNCAPPED_PATHS)
    app.add_middleware(FirstParamWins, repeatable=(  # the query API's scope lists
        re.compile(rf"^{API}/projects/[^/]+/points$"), frozenset({"stream", "device", "series"})))
    app.add_middleware(PointWrites, target=app)  # outermost: batches skip the stack above
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings come from the environment `serve` exported."""
    return create_app(Settings())
