"""The IOTile Cloud face: what the original `iotile-cloud` 0.9.14 package sends, at
`/iotile/api/v1/…` (`Api(domain="http://HOST:PORT/iotile")`), translated onto the accounts,
orgs, projects, devices, streams, stream events, files and query services.

It is an app of its own, mounted by `create_app`: it stays out of the native OpenAPI, and its
errors are the `{"detail": …}` JSON of Django REST Framework, which IOTile Cloud ran on.
"""

from __future__ import annotations

from fastapi import FastAPI

from cloudlet.server.faces.app import face_app
from cloudlet.server.faces.iotile import wire
from cloudlet.server.faces.iotile.data import router as data
from cloudlet.server.faces.iotile.resources import router as resources
from cloudlet.server.faces.iotile.uploads import router as uploads
from cloudlet.server.services import Services

PREFIX = "/iotile"

__all__ = ["PREFIX", "create_face"]


def create_face(services: Services) -> FastAPI:
    return face_app(services, title="IOTile Cloud face", routers=(uploads, data, resources),
                    errors=wire.ERRORS)
