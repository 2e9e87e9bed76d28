"""One-time websocket sessions: `start_websocket_session` hands one out, the socket's
`authenticate` emit redeems it for a subscription to one events topic.

A session is a short-lived token signed with the server's secret, naming the user, the topic
(checked readable when it is handed out) and an id; any worker can verify it, and the bus's
`claim_once` makes it single-use across workers.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core import security
from cloudlet.server.core.errors import DomainError
from cloudlet.server.core.principal import Principal
from cloudlet.server.faces.amigocloud.routes import caller
from cloudlet.server.services import Services

router = APIRouter(prefix="/api/v1")
TTL = 60  # seconds a handed-out session stays redeemable
KIND = "amigocloud-websocket"


class BadSession(DomainError):
    status, title = 401, "Invalid websocket session"


def mint(services: Services, principal: Principal, topic: str) -> str:
    """A session for `topic`, which the caller may follow (raises otherwise)."""
    canonical = services.events.authorize(principal, topic)
    claims = {"kind": KIND, "sub": str(principal.user_id), "topic": canonical,
              "jti": uuid.uuid4().hex, "exp": int(time.time()) + TTL}
    key = services.settings.secret_key
    assert key, "Settings.prepare() fills the secret key"
    return security.encode_jwt(claims, key)


async def redeem(services: Services, auth: Any) -> str:
    """The topic an `authenticate` payload `{userid, websocket_session[, datasetid]}` opens;
    raises `BadSession` for a forged, expired, used or mismatched session."""
    if not isinstance(auth, dict) or not isinstance(auth.get("websocket_session"), str):
        raise BadSession("authenticate needs {userid, websocket_session} and, for a "
                         "dataset, datasetid.")
    key = services.settings.secret_key
    assert key
    claims = security.decode_jwt(auth["websocket_session"], key)
    if claims is None or claims.get("kind") != KIND:
        raise BadSession("Unknown or expired websocket_session; start a new one.")
    if str(auth.get("userid")) != claims["sub"]:
        raise BadSession("This websocket_session belongs to another user.")
    wanted = auth.get("datasetid")
    if wanted is not None and claims["topic"] != f"dataset:{wanted}":
        raise BadSession("This websocket_session is not for that dataset.")
    if not await services.events.bus.claim_once(f"amigo-ws:{claims['jti']}", TTL + 5):
        raise BadSession("This websocket_session was already used; start a new one.")
    return str(claims["topic"])


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.get("/me/start_websocket_session")
async def start_user_session(request: Request) -> Response:
    def run() -> str:
        who = caller(request)
        who.require_unrestricted("following a user's events")
        return mint(_services(request), who, f"user:{who.user_id}")

    return JSONResponse({"websocket_session": await run_in_threadpool(run)})


@router.get("/users/{owner}/projects/{pid}/datasets/{did}/start_websocket_session")
@router.get("/projects/{pid}/datasets/{did}/start_websocket_session")
async def start_dataset_session(request: Request, pid: int, did: int) -> Response:
    def run() -> str:
        who = caller(request)
        services = _services(request)
        services.datasets.get(who, str(pid), did)  # in that project, and readable
        return mint(services, who, f"dataset:{did}")

    return JSONResponse({"websocket_session": await run_in_threadpool(run)})
