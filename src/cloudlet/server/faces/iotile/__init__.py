"""The IOTile Cloud face: what the original `iotile-cloud` 0.9.14 package sends, at
`/iotile/api/v1/…` (`Api(domain="http://HOST:PORT/iotile")`), translated onto the accounts,
orgs, projects, devices, streams, stream events, files and query services.

It is an app of its own, mounted by `create_app`: it stays out of the native OpenAPI, and its
errors are the `{"detail": …}` JSON of Django REST Framework, which IOTile Cloud ran on.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException

from cloudlet.server.core.errors import DomainError
from cloudlet.server.faces.iotile import wire
from cloudlet.server.faces.iotile.data import router as data
from cloudlet.server.faces.iotile.resources import router as resources
from cloudlet.server.faces.iotile.uploads import router as uploads
from cloudlet.server.services import Services

PREFIX = "/iotile"

__all__ = ["PREFIX", "create_face"]


def create_face(services: Services) -> FastAPI:
    face = FastAPI(title="IOTile Cloud face", openapi_url=None, docs_url=None, redoc_url=None)
    face.state.services = services
    face.state.settings = services.settings
    face.include_router(uploads)
    face.include_router(data)
    face.include_router(resources)
    face.add_exception_handler(DomainError, wire.on_domain_error)
    face.add_exception_handler(HTTPException, wire.on_http_error)
    face.add_exception_handler(Exception, wire.on_unexpected)
    return face
