"""Account rules: creating users (with their personal org and home project), logging in and
out, the caller's own profile, and installation administration by superusers.

A superuser administers the installation (users), but gains no access to anyone's orgs or
projects: that stays with membership.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from cloudlet.server.accounts.tables import users
from cloudlet.server.accounts.throttle import LoginThrottle
from cloudlet.server.accounts.tokens import TokenService
from cloudlet.server.core import security
from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import (
    Conflict,
    Invalid,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.orgs.service import OrgService
from cloudlet.server.projects.service import ProjectService

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.first_name,
    users.c.last_name,
    users.c.is_superuser,
    users.c.is_active,
    users.c.created_at,
)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"A password needs at least {MIN_PASSWORD} characters.")
    return password


class AccountService:
    def __init__(
        self,
        db: Database,
        *,
        orgs: OrgService,
        projects: ProjectService,
        tokens: TokenService,
        throttle: LoginThrottle,
        passwords: security.Passwords,
        session_ttl: int,
        registration_open: bool,
    ) -> None:
        self.db = db
        self.orgs = orgs
        self.projects = projects
        self.tokens = tokens
        self.throttle = throttle
        self.passwords = passwords
        self.session_ttl = timedelta(seconds=session_ttl)
        self.registration_open = registration_open

    # --- users -------------------------------------------------------------------------------

    def create_user_in(
        self,
        tx: Tx,
        *,
        username: str,
        email: str,
        password: str | None,
        first_name: str = "",
        last_name: str = "",
        is_superuser: bool = False,
    ) -> dict[str, Any]:
        """A user, their personal org (slug = username) and their home project."""
        if not USERNAME_RE.match(username):
            raise Invalid(
                "A username is 1-40 letters, digits, '-' or '_', starting with a letter or digit."
            )
        if not EMAIL_RE.match(email) or len(email) > 254:
            raise Invalid(f"{email!r} is not an email address.")
        if password is not None:
            check_password(password)
        clash = tx.execute(
            select(users.c.username, users.c.email).where(
                or_(
                    func.lower(users.c.username) == username.lower(),
                    func.lower(users.c.email) == email.lower(),
                )
            )
        ).first()
        if clash is not None:
            what = "username" if clash.username.lower() == username.lower() else "email"
            raise Conflict(f"That {what} is already registered.")
        if self.orgs.slug_taken(tx.conn, username.lower()):
            raise Conflict("That username is already taken by an org.")
        user_id = tx.execute(
            insert(users).values(
                username=username,
                email=email,
                password_hash=self.passwords.hash(password) if password else None,
                first_name=first_name,
                last_name=last_name,
                is_superuser=is_superuser,
                is_active=True,
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]
        org = self.orgs.create_in(
            tx,
            slug=username.lower(),
            name=username,
            about="",
            owner_id=user_id,
            personal=True,
        )
        self.projects.create_in(
            tx, org_id=org["id"], name="home", description="", created_by=user_id, is_home=True
        )
        return self._user(tx.conn, user_id)

    def _user(self, conn: Connection, user_id: int) -> dict[str, Any]:
        row = conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id)).first()
        if row is None:
            raise NotFound(f"No user {user_id}.")
        return dict(row._mapping)

    def profile(self, conn: Connection, user_id: int) -> dict[str, Any]:
        """A user with their personal org slug and home project."""
        user = self._user(conn, user_id)
        home = self.projects.home_project(conn, user_id)
        return {
            **user,
            "org": self.orgs.personal_org(conn, user_id)["slug"],
            "home_project": {"id": home["id"], "gid": home["gid"], "uuid": home["uuid"],
                             "name": home["name"]},
        }

    # --- sessions ------------------------------------------------------------------------------

    def login(
        self, *, identifier: str, password: str, address: str
    ) -> tuple[str, dict[str, Any]]:
        """A session JWT and the user, or 401; repeated failures are throttled (429)."""
        self.throttle.check(identifier, address)
        with self.db.read() as conn:
            row = conn.execute(
                select(users.c.id, users.c.password_hash, users.c.is_active).where(
                    or_(
                        func.lower(users.c.username) == identifier.lower(),
                        func.lower(users.c.email) == identifier.lower(),
                    )
                )
            ).first()
        ok = self.passwords.verify(row.password_hash if row else None, password)
        if row is None or not ok or not row.is_active:
            self.throttle.failed(identifier, address)
            raise Unauthenticated("Wrong username, email or password.")
        self.throttle.succeeded(identifier)
        with self.db.write() as tx:
            _, jwt = self.tokens.issue_jwt(
                tx, user_id=row.id, scope="admin", lifetime=self.session_ttl
            )
            return jwt, self.profile(tx.conn, row.id)

    def refresh(self, credential: str) -> str:
        """A fresh session JWT for the user behind a valid session JWT (IOTile's
        `api-jwt-refresh`); the old one stays valid until it expires or is revoked."""
        principal = self.tokens.authenticate(credential)
        if principal.token_kind != "jwt":
            raise Invalid("Only a login JWT can be refreshed.")
        with self.db.write() as tx:
            _, jwt = self.tokens.issue_jwt(
                tx, user_id=principal.user_id, scope=principal.scope, lifetime=self.session_ttl,
                project_id=principal.project_id, device_id=principal.device_id,
            )
            return jwt

    def register(
        self, *, username: str, email: str, password: str, first_name: str, last_name: str
    ) -> tuple[str, dict[str, Any]]:
        if not self.registration_open:
            raise PermissionDenied("Registration is closed; ask an administrator for an account.")
        with self.db.write() as tx:
            user = self.create_user_in(
                tx, username=username, email=email, password=password,
                first_name=first_name, last_name=last_name,
            )
            _, jwt = self.tokens.issue_jwt(
                tx, user_id=user["id"], scope="admin", lifetime=self.session_ttl
            )
            return jwt, self.profile(tx.conn, user["id"])

    # --- the caller's own account ---------------------------------------------------------

    def me(self, principal: Principal) -> dict[str, Any]:
        with self.db.read() as conn:
            return self.profile(conn, principal.user_id)

    def update_me(self, principal: Principal, **values: str | None) -> dict[str, Any]:
        principal.require_unrestricted("change the account")
        principal.require_scope(Level.WRITE, "changing the account")
        changes = {k: v for k, v in values.items() if v is not None}
        with self.db.write() as tx:
            if "email" in changes:
                email = changes["email"] or ""
                if not EMAIL_RE.match(email):
                    raise Invalid(f"{email!r} is not an email address.")
                taken = tx.execute(
                    select(users.c.id).where(
                        func.lower(users.c.email) == email.lower(),
                        users.c.id != principal.user_id,
                    )
                ).first()
                if taken:
                    raise Conflict("That email is already registered.")
            if changes:
                tx.execute(update(users).where(users.c.id == principal.user_id).values(**changes))
            return self.profile(tx.conn, principal.user_id)

    def change_password(self, principal: Principal, *, current: str, new: str) -> None:
        """Needs the current password; the user's other login sessions end (API tokens stay:
        they are managed, and revoked, one by one under /tokens)."""
        principal.require_unrestricted("change the password")
        principal.require_scope(Level.ADMIN, "changing the password")
        check_password(new)
        with self.db.read() as conn:
            stored = conn.execute(
                select(users.c.password_hash).where(users.c.id == principal.user_id)
            ).scalar()
        if not self.passwords.verify(stored, current):
            raise PermissionDenied("The current password is wrong.")
        with self.db.write() as tx:
            tx.execute(
                update(users)
                .where(users.c.id == principal.user_id)
                .values(password_hash=self.passwords.hash(new))
            )
            self.tokens.revoke_all_of(
                tx, principal.user_id, keep=principal.token_id, sessions_only=True
            )

    # --- installation administration (superusers) -----------------------------------------

    def _superuser(self, principal: Principal, need: Level) -> None:
        if not principal.is_superuser:
            raise PermissionDenied("Only a superuser can administer users.")
        principal.require_unrestricted("administer users")
        principal.require_scope(need, "administering users")

    def list_users(
        self, principal: Principal, *, limit: int, offset: int, search: str | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        self._superuser(principal, Level.READ)
        query = select(*USER_COLUMNS)
        if search:
            needle = search.lower()
            query = query.where(
                or_(
                    func.lower(users.c.username).contains(needle),
                    func.lower(users.c.email).contains(needle),
                )
            )
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            page = conn.execute(query.order_by(users.c.id).limit(limit).offset(offset))
            return total, [self.profile(conn, r.id) for r in page.all()]

    def create_user(self, principal: Principal | None, **fields: Any) -> dict[str, Any]:
        """Create a user; `principal=None` is the operator CLI, which needs no token."""
        if principal is not None:
            self._superuser(principal, Level.ADMIN)
        with self.db.write() as tx:
            user = self.create_user_in(tx, **fields)
            return self.profile(tx.conn, user["id"])

    def get_user(self, principal: Principal, user_id: int) -> dict[str, Any]:
        self._superuser(principal, Level.READ)
        with self.db.read() as conn:
            return self.profile(conn, user_id)

    def update_user(
        self,
        principal: Principal,
        user_id: int,
        *,
        is_active: bool | None = None,
        is_superuser: bool | None = None,
        password: str | None = None,
    ) -> dict[str, Any]:
        self._superuser(principal, Level.ADMIN)
        if user_id == principal.user_id and (is_active is False or is_superuser is False):
            raise Conflict("You can't deactivate or demote yourself.")
        changes: dict[str, Any] = {
            k: v for k, v in {"is_active": is_active, "is_superuser": is_superuser}.items()
            if v is not None
        }
        if password is not None:
            changes["password_hash"] = self.passwords.hash(check_password(password))
        with self.db.write() as tx:
            self._user(tx.conn, user_id)
            if changes:
                tx.execute(update(users).where(users.c.id == user_id).values(**changes))
                self.tokens.forget_cached(tx)  # principals carry is_superuser
            if is_active is False:
                self.tokens.revoke_all_of(tx, user_id)
            elif password is not None:
                self.tokens.revoke_all_of(tx, user_id, sessions_only=True)
            return self.profile(tx.conn, user_id)

    def find_user_id(self, username: str) -> int:
        with self.db.read() as conn:
            row = conn.execute(
                select(users.c.id).where(func.lower(users.c.username) == username.lower())
            ).first()
        if row is None:
            raise NotFound(f"No user {username!r}.")
        return int(row.id)

    def bootstrap_admin(self, username: str, password: str | None) -> tuple[str, str] | None:
        """On an empty installation: the first superuser and an admin token, else None."""
        password = password or secrets.token_urlsafe(12)
        with self.db.write() as tx:
            if tx.execute(select(func.count()).select_from(users)).scalar_one():
                return None
            user = self.create_user_in(
                tx, username=username, email=f"{username}@localhost.localdomain",
                password=password, is_superuser=True,
            )
            _, token = self.tokens.issue_api_token(
                tx, user_id=user["id"], scope="admin", name="first admin token"
            )
        return password, token
