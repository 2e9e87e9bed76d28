"""The iobeam face: what the original `iobeam` 0.11.0 client sends, at `/iobeam/v1/…`
(`ClientBuilder(...).setBackend("http://HOST:PORT/iobeam/v1/")`), translated onto the
tokens, devices, ingest and query services; exports (`iobeam.makeQuery`) read through the
time-series query service.

It is an app of its own, mounted by `create_app`: it stays out of the native OpenAPI, and its
errors are the `{"errors": [{"code", "message"}]}` JSON its client reads.
"""

from __future__ import annotations

from fastapi import FastAPI

from cloudlet.server.faces.app import face_app
from cloudlet.server.faces.iobeam import wire
from cloudlet.server.faces.iobeam.routes import router
from cloudlet.server.services import Services

PREFIX = "/iobeam"

__all__ = ["PREFIX", "create_face", "router"]


def create_face(services: Services) -> FastAPI:
    return face_app(services, title="iobeam face", routers=(router,), errors=wire.ERRORS)
