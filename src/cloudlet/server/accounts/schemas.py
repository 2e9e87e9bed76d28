"""Request and response bodies of the accounts routes (auth, me, tokens, users)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

Scope = Literal["read", "write", "admin"]


class ProjectRef(BaseModel):
    id: int
    gid: str
    name: str


class HomeProject(ProjectRef):
    uuid: str


class User(BaseModel):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    is_superuser: bool
    is_active: bool
    created_at: datetime
    org: str = Field(description="Slug of the user's personal org")
    home_project: HomeProject


class TokenInfo(BaseModel):
    id: int
    kind: Literal["api", "jwt"]
    name: str
    prefix: str
    scope: Scope
    project: ProjectRef | None
    device_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    active: bool


class Me(User):
    token: TokenInfo = Field(description="The token this request was made with")


class LoginIn(BaseModel):
    username: str | None = Field(default=None, max_length=254)
    email: str | None = Field(default=None, max_length=254)
    password: str = Field(max_length=1024)

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginIn:
        if not (self.username or self.email):
            raise ValueError("give a username or an email")
        return self


class LoginOut(BaseModel):
    token: str
    user: User


class RegisterIn(BaseModel):
    username: str = Field(max_length=40)
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)


class MeUpdate(BaseModel):
    email: str | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TokenCreate(BaseModel):
    name: str = Field(default="", max_length=100)
    scope: Scope = "write"
    project: str | int | None = Field(
        default=None, description="Restrict to one project (id, gid or uuid)"
    )
    device_id: int | None = Field(default=None, description="Restrict to one device")
    expires_in: int | None = Field(default=None, gt=0, description="Lifetime in seconds")
    kind: Literal["api", "jwt"] = "api"


class TokenCreated(TokenInfo):
    token: str = Field(description="The secret, shown this once")


class UserCreate(RegisterIn):
    is_superuser: bool = False


class UserUpdate(BaseModel):
    is_active: bool | None = None
    is_superuser: bool | None = None
    password: str | None = Field(default=None, max_length=1024)
