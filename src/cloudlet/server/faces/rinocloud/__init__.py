"""The RinoCloud face: what the RinoCloud tutorial's raw `requests` calls and the original
`rinocloud` 0.0.8 package send, at `/rinocloud/api/1/…` (`rinocloud.set_domain(
"http://HOST:PORT/rinocloud")`), translated onto the files service.

It is an app of its own, mounted by `create_app`: it stays out of the native OpenAPI, and its
errors are the `{"detail": …}` JSON its clients print, not problem+json.
"""

from __future__ import annotations

from fastapi import FastAPI

from cloudlet.server.faces.app import face_app
from cloudlet.server.faces.rinocloud import wire
from cloudlet.server.faces.rinocloud.routes import router
from cloudlet.server.services import Services

PREFIX = "/rinocloud"

__all__ = ["PREFIX", "create_face"]


def create_face(services: Services) -> FastAPI:
    return face_app(services, title="RinoCloud face", routers=(router,), errors=wire.ERRORS)
