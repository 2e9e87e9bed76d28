"""The AmigoCloud face: what the original `amigocloud` 1.2.5 client sends, at
`/amigocloud/api/v1/…` (`AmigoCloud(token=…, base_url="http://HOST:PORT/amigocloud")`),
translated onto the accounts, projects, datasets and SQL services.

An app of its own, mounted by `create_app`: out of the native OpenAPI, with `{"detail": …}`
errors (the client only reads the status and the text). Paths work with or without a
trailing slash: the face drops one before routing.
"""

from __future__ import annotations

from fastapi import Depends
from starlette.types import ASGIApp, Receive, Scope, Send

from cloudlet.server.faces.amigocloud import geocoder, sockets, uploads, wsessions
from cloudlet.server.faces.amigocloud.routes import check_owner, router
from cloudlet.server.faces.app import ErrorWire, face_app
from cloudlet.server.services import Services

PREFIX = "/amigocloud"
ERRORS = ErrorWire(name="AmigoCloud", scheme="Token")
SOCKET_PATH = "/v2_socket.io/socket.io"  # Engine.IO 3 long-polling (eio, sockets)

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
    face = face_app(services, title="AmigoCloud face", routers=(geocoder.router,),
                    errors=ERRORS)
    owner = [Depends(check_owner)]  # `/users/{owner}/projects/{pid}/…` must name the owner
    for routes in (router, uploads.router, wsessions.router):
        face.include_router(routes, dependencies=owner)
    face.add_route(SOCKET_PATH, sockets.AmigoSockets(services).engine.endpoint,
                   methods=["GET", "POST"])
    return _NoTrailingSlash(face)
