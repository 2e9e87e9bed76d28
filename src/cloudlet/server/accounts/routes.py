"""Native routes of the accounts domain: auth, me, tokens and (superuser) users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from cloudlet.server.accounts import schemas as s
from cloudlet.server.http.auth import Caller, Svc
from cloudlet.server.http.pagination import Page, Paging, envelope

router = APIRouter()


@router.post("/auth/login", response_model=s.LoginOut, tags=["auth"])
def login(body: s.LoginIn, request: Request, services: Svc) -> dict[str, Any]:
    """Exchange a username (or email) and password for a session token."""
    address = request.client.host if request.client else "unknown"
    token, user = services.accounts.login(
        identifier=(body.username or body.email or ""), password=body.password, address=address
    )
    return {"token": token, "user": user}


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(caller: Caller, services: Svc) -> Response:
    """Revoke the token this request was made with."""
    services.tokens.revoke(caller, caller.token_id)
    return Response(status_code=204)


@router.post("/auth/register", response_model=s.LoginOut, status_code=201, tags=["auth"])
def register(body: s.RegisterIn, services: Svc) -> dict[str, Any]:
    """Sign up, when the installation allows it (`CLOUDLET_REGISTRATION_OPEN`)."""
    token, user = services.accounts.register(**body.model_dump())
    return {"token": token, "user": user}


@router.get("/me", response_model=s.Me, tags=["me"])
def me(caller: Caller, services: Svc) -> dict[str, Any]:
    """The caller's account, and the token used."""
    return {**services.accounts.me(caller), "token": services.tokens.current(caller)}


@router.patch("/me", response_model=s.User, tags=["me"])
def update_me(body: s.MeUpdate, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.accounts.update_me(caller, **body.model_dump(exclude_unset=True))


@router.post("/me/password", status_code=204, tags=["me"])
def change_password(body: s.PasswordChange, caller: Caller, services: Svc) -> Response:
    """Change the password; every other token of the account is revoked."""
    services.accounts.change_password(
        caller, current=body.current_password, new=body.new_password
    )
    return Response(status_code=204)


@router.get("/tokens", response_model=Page[s.TokenInfo], tags=["tokens"])
def list_tokens(
    request: Request,
    page: Paging,
    caller: Caller,
    services: Svc,
    all: bool = Query(False, description="Include revoked and expired tokens"),
) -> dict[str, Any]:
    total, found = services.tokens.list(
        caller, limit=page.limit, offset=page.offset, include_inactive=all
    )
    return envelope(request, page, total, found)


@router.post("/tokens", response_model=s.TokenCreated, status_code=201, tags=["tokens"])
def create_token(body: s.TokenCreate, caller: Caller, services: Svc) -> dict[str, Any]:
    """Create a token; the secret is in the answer, and nowhere else, ever."""
    info, secret = services.tokens.create(
        caller,
        name=body.name,
        scope=body.scope,
        project=None if body.project is None else str(body.project),
        device_id=body.device_id,
        expires_in=body.expires_in,
        kind=body.kind,
    )
    return {**info, "token": secret}


@router.get("/tokens/{token_id}", response_model=s.TokenInfo, tags=["tokens"])
def get_token(token_id: int, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.tokens.get(caller, token_id)


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"])
def revoke_token(token_id: int, caller: Caller, services: Svc) -> Response:
    services.tokens.revoke(caller, token_id)
    return Response(status_code=204)


@router.get("/users", response_model=Page[s.User], tags=["users"])
def list_users(
    request: Request,
    page: Paging,
    caller: Caller,
    services: Svc,
    search: str | None = Query(None, max_length=100),
) -> dict[str, Any]:
    """All users of the installation (superusers only)."""
    total, found = services.accounts.list_users(
        caller, limit=page.limit, offset=page.offset, search=search
    )
    return envelope(request, page, total, found)


@router.post("/users", response_model=s.User, status_code=201, tags=["users"])
def create_user(body: s.UserCreate, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.accounts.create_user(caller, **body.model_dump())


@router.get("/users/{user_id}", response_model=s.User, tags=["users"])
def get_user(user_id: int, caller: Caller, services: Svc) -> dict[str, Any]:
    return services.accounts.get_user(caller, user_id)


@router.patch("/users/{user_id}", response_model=s.User, tags=["users"])
def update_user(
    user_id: int, body: s.UserUpdate, caller: Caller, services: Svc
) -> dict[str, Any]:
    """Activate or deactivate, grant or drop superuser, or reset the password."""
    return services.accounts.update_user(caller, user_id, **body.model_dump(exclude_unset=True))
