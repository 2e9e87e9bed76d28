"""The AmigoCloud face: what the original `amigocloud` 1.2.5 client sends, at
`/amigocloud/api/v1/…` (`AmigoCloud(token=…, base_url="http://HOST:PORT/amigocloud")`),
translated onto the accounts, projects, datasets, imports, galleries, files (resumable
uploads) and SQL services, and forwarded to a configured geocoder.

An app of its own, mounted by `create_app`: out of the native OpenAPI, with `{"detail": …}`
errors (the client only reads the status and the text). Paths work with or without a
trailing slash: the face drops one before routing.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from cloudlet.server.core.errors import DomainError
from cloudlet.server.faces.amigocloud import geocoder, uploads
from cloudlet.server.faces.amigocloud.routes import check_owner, router
from cloudlet.server.faces.rinocloud import wire
from cloudlet.server.services import Services

PREFIX = "/amigocloud"

__all__ = ["PREFIX", "create_face"]


class _NoTrailingSlash:
    """`/me/` and `/me` are one endpoint (the client builds both)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


def create_face(services: Services) -> ASGIApp:
    face = FastAPI(title="AmigoCloud face", openapi_url=None, docs_url=None, redoc_url=None)
    face.state.services = services
    face.state.settings = services.settings
    owner = [Depends(check_owner)]  # `/users/{owner}/projects/{pid}/…` must name the owner
    face.include_router(router, dependencies=owner)
    face.include_router(uploads.router, dependencies=owner)
    face.include_router(geocoder.router)
    face.add_exception_handler(DomainError, wire.on_domain_error)
    face.add_exception_handler(HTTPException, wire.on_http_error)
    face.add_exception_handler(Exception, wire.on_unexpected)
    return _NoTrailingSlash(face)
