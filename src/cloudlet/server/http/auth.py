"""Credentials on the native face: `Authorization: Bearer|Token|jwt <token>` → `Principal`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cloudlet.server.core.errors import Unauthenticated
from cloudlet.server.core.principal import Principal
from cloudlet.server.services import Services

SCHEMES = ("bearer", "token", "jwt")


def credential(request: Request) -> str | None:
    """The presented token, or None for an anonymous request.

    `jwt None` counts as anonymous: the IOTile client sends exactly that before login.
    """
    header = request.headers.get("authorization", "").strip()
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() not in SCHEMES:
        raise Unauthenticated(
            f"Unsupported authorization scheme {scheme!r}; send 'Authorization: Bearer <token>'."
        )
    if not value or value == "None":
        return None
    return value


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]


def optional_principal(request: Request, services: Svc) -> Principal | None:
    token = credential(request)
    if token is None:
        return None
    principal = services.tokens.authenticate(token)
    request.state.principal = principal
    request.state.token = token
    return principal


def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthenticated("Authentication required: send 'Authorization: Bearer <token>'.")
    return principal


Caller = Annotated[Principal, Depends(require_principal)]
