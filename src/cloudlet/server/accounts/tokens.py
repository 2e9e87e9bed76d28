"""Tokens: minting, resolving a presented credential to a `Principal`, listing and revoking.

Two kinds share one table so that every credential can be listed and revoked alike:
- `api`: an opaque `clt_…` secret shown once; only its sha256 is stored.
- `jwt`: an HS256 token signed with the server secret (sessions and project tokens); its
  `jti` row is checked on every request, so revocation takes effect at once.

A project JWT says what it is in its claims (`pid`, `scopes`, `did`, `rfs`), for clients that
read them (the iobeam client decodes its token to see when it expires). It can be refreshed,
even after it expired, unless it was revoked or made with `refreshable=False`. Refreshing
extends the token: the new JWT keeps the `jti`, the row's expiry moves, and every JWT of the
token is accepted until then. The row is the truth (as for revocation), and it has to be: the
iobeam 0.11.0 client reads the refreshed JWT's `exp` but keeps sending the JWT it started
with. Anyone holding an old JWT could refresh it anyway, so accepting it grants nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from cloudlet.server.accounts.principal_cache import REVOCATIONS, PrincipalCache
from cloudlet.server.accounts.tables import tokens, users
from cloudlet.server.core import security
from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Invalid, NotFound, PermissionDenied, Unauthenticated
from cloudlet.server.core.principal import SCOPES, Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.events.service import EventService
from cloudlet.server.projects.service import ProjectService, gid_of

PUBLIC_COLUMNS = (
    tokens.c.id,
    tokens.c.kind,
    tokens.c.name,
    tokens.c.prefix,
    tokens.c.scope,
    tokens.c.project_id,
    tokens.c.device_id,
    tokens.c.created_at,
    tokens.c.expires_at,
    tokens.c.revoked_at,
    tokens.c.last_used_at,
)


DEFAULT_JWT_LIFETIME = timedelta(days=7)
# The iobeam client counts a token within 24 hours of its expiry as expired and refreshes it
# before every request; a refreshed token shorter-lived than that would never satisfy it.
REFRESHED_MIN_LIFETIME = timedelta(days=2)


def scopes_of(scope: str) -> list[str]:
    """The scopes a scope implies: write reads too, admin does everything."""
    return list(SCOPES[: Level.of_scope(scope)])


def project_claims(project_id: int, scope: str, device_id: int | None, refreshable: bool
                   ) -> dict[str, Any]:
    claims: dict[str, Any] = {"pid": project_id, "scopes": scopes_of(scope), "rfs": refreshable}
    if device_id is not None:
        claims["did"] = device_id
    return claims


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise Invalid(f"Unknown scope {scope!r}; use one of {', '.join(SCOPES)}.")
    return scope


class TokenService:
    def __init__(
        self,
        db: Database,
        projects: ProjectService,
        events: EventService,
        *,
        secret_key: str,
        touch_interval: int,
    ) -> None:
        self.db = db
        self.projects = projects
        self.events = events
        self.secret_key = secret_key
        self.touch_interval = timedelta(seconds=touch_interval)
        self.cache = PrincipalCache()

    # --- minting -------------------------------------------------------------------------

    def issue_api_token(
        self,
        tx: Tx,
        *,
        user_id: int,
        scope: str,
        name: str = "",
        project_id: int | None = None,
        device_id: int | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A new opaque token row and its secret (the only time the secret exists)."""
        secret = security.new_api_secret()
        token_id = tx.execute(
            insert(tokens).values(
                user_id=user_id,
                kind="api",
                name=name,
                secret_hash=security.secret_hash(secret),
                jti=security.new_jti(),
                prefix=secret[:12],
                scope=check_scope(scope),
                project_id=project_id,
                device_id=device_id,
                created_at=utcnow(),
                expires_at=expires_at,
            )
        ).inserted_primary_key[0]
        return self._public(tx.conn, token_id), secret

    def issue_jwt(
        self,
        tx: Tx,
        *,
        user_id: int,
        scope: str,
        lifetime: timedelta,
        name: str = "session",
        project_id: int | None = None,
        device_id: int | None = None,
        claims: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], str]:
        jti = security.new_jti()
        now = utcnow()
        expires_at = now + lifetime
        token_id = tx.execute(
            insert(tokens).values(
                user_id=user_id,
                kind="jwt",
                name=name,
                jti=jti,
                prefix="jwt",
                scope=check_scope(scope),
                project_id=project_id,
                device_id=device_id,
                created_at=now,
                expires_at=expires_at,
            )
        ).inserted_primary_key[0]
        payload = {
            **(claims or {}),
            "sub": str(user_id),
            "jti": jti,
            "iat": security.epoch(now),
            "exp": security.epoch(expires_at),
        }
        return self._public(tx.conn, token_id), security.encode_jwt(payload, self.secret_key)

    def issue_for_operator(
        self,
        *,
        user_id: int,
        scope: str,
        name: str,
        project: str | None,
        expires_in: int | None,
    ) -> str:
        """An API token minted by the operator CLI, which needs no caller: it holds the
        installation. Returns the secret."""
        with self.db.write() as tx:
            project_id = None
            if project is not None:
                found = self.projects.resolve(tx.conn, project)
                if found is None:
                    raise NotFound(f"No project {project!r}.")
                project_id = found["id"]
            _, secret = self.issue_api_token(
                tx,
                user_id=user_id,
                scope=scope,
                name=name,
                project_id=project_id,
                expires_at=utcnow() + timedelta(seconds=expires_in) if expires_in else None,
            )
        return secret

    # --- resolving ------------------------------------------------------------------------

    def authenticate(self, credential: str) -> Principal:
        """The principal behind a presented token; 401 for anything unknown, expired or revoked."""
        cached = self.cache.get(credential, utcnow())
        if cached is not None:
            return cached
        generation = self.cache.generation()
        if security.looks_like_jwt(credential):
            claims = security.decode_jwt(credential, self.secret_key, verify_exp=False)
            where = (
                and_(tokens.c.kind == "jwt", tokens.c.jti == str(claims["jti"])) if claims else None
            )
        else:
            where = and_(
                tokens.c.kind == "api", tokens.c.secret_hash == security.secret_hash(credential)
            )
        row = None
        if where is not None:
            with self.db.read() as conn:
                row = conn.execute(
                    select(tokens, users.c.username, users.c.is_superuser, users.c.is_active)
                    .join(users, users.c.id == tokens.c.user_id)
                    .where(where)
                ).first()
        now = utcnow()
        if row is None or not row.is_active:
            raise Unauthenticated("Invalid token.")
        if row.revoked_at is not None:
            raise Unauthenticated("This token has been revoked.")
        if row.expires_at is not None and row.expires_at <= now:
            raise Unauthenticated("This token has expired.")
        if row.last_used_at is None or now - row.last_used_at >= self.touch_interval:
            self._touch(row.id, now)
        principal = Principal(
            user_id=row.user_id,
            username=row.username,
            is_superuser=row.is_superuser,
            scope=row.scope,
            token_id=row.id,
            token_kind=row.kind,
            project_id=row.project_id,
            device_id=row.device_id,
        )
        self.cache.put(credential, principal, row.expires_at, generation)
        return principal

    def forget_cached(self, tx: Tx | None = None) -> None:
        """Tokens or their users changed: resolve every token afresh, here at once and
        after `tx` commits, and in the other workers (through the bus)."""
        self.cache.clear()
        if tx is not None:
            tx.after_commit(self.cache.clear)
            self.events.publish_after(tx, REVOCATIONS, "token.revoked", {})

    def _touch(self, token_id: int, now: datetime) -> None:
        """Record use, at most once per interval per token (even across workers)."""
        with self.db.write() as tx:
            tx.execute(
                update(tokens)
                .where(
                    tokens.c.id == token_id,
                    or_(
                        tokens.c.last_used_at.is_(None),
                        tokens.c.last_used_at <= now - self.touch_interval,
                    ),
                )
                .values(last_used_at=now)
            )

    # --- the native face's operations -----------------------------------------------------

    def _manage(self, principal: Principal) -> None:
        principal.require_unrestricted("manage tokens")
        principal.require_scope(Level.ADMIN, "managing tokens")

    def list(
        self, principal: Principal, *, limit: int, offset: int, include_inactive: bool = False
    ) -> tuple[int, list[dict[str, Any]]]:
        self._manage(principal)
        query = select(*PUBLIC_COLUMNS).where(tokens.c.user_id == principal.user_id)
        if not include_inactive:
            query = query.where(
                tokens.c.revoked_at.is_(None),
                or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > utcnow()),
            )
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            page = conn.execute(query.order_by(tokens.c.id).limit(limit).offset(offset))
            return total, [self._shape(conn, dict(r._mapping)) for r in page]

    def create(
        self,
        principal: Principal,
        *,
        name: str,
        scope: str,
        project: str | None,
        device_id: int | None,
        expires_in: int | None,
        kind: str = "api",
        refreshable: bool = True,
    ) -> tuple[dict[str, Any], str]:
        """A token of the caller's; a `jwt` restricted to a project is a project token
        (refreshable unless `refreshable=False`)."""
        self._manage(principal)
        check_scope(scope)
        if expires_in is not None and expires_in <= 0:
            raise Invalid("expires_in must be a positive number of seconds.")
        if kind not in ("api", "jwt"):
            raise Invalid("kind must be 'api' or 'jwt'.")
        if device_id is not None and project is None:
            raise Invalid("A device token needs its project.")
        with self.db.write() as tx:
            project_id = None
            if project is not None:
                need = Level.of_scope(scope)
                project_id = self.projects.authorize(tx.conn, principal, project, need)["id"]
            if kind == "jwt":
                claims = (project_claims(project_id, scope, device_id, refreshable)
                          if project_id is not None else None)
                return self.issue_jwt(
                    tx,
                    user_id=principal.user_id,
                    scope=scope,
                    name=name,
                    project_id=project_id,
                    device_id=device_id,
                    lifetime=timedelta(seconds=expires_in) if expires_in
                    else DEFAULT_JWT_LIFETIME,
                    claims=claims,
                )
            expires_at = utcnow() + timedelta(seconds=expires_in) if expires_in else None
            return self.issue_api_token(
                tx,
                user_id=principal.user_id,
                scope=scope,
                name=name,
                project_id=project_id,
                device_id=device_id,
                expires_at=expires_at,
            )

    def refresh(self, presented: str) -> tuple[dict[str, Any], str]:
        """A new JWT for a project token, expired or not, as long as we signed it, it is not
        revoked and its user is active: same row and `jti`, same claims, the lifetime it was
        made with (at least two days), counted from now. Needs no other credential (the token
        is the proof)."""
        claims = (security.decode_jwt(presented, self.secret_key, verify_exp=False)
                  if security.looks_like_jwt(presented) else None)
        if claims is None:
            raise Unauthenticated("Not a token this server signed.")
        if claims.get("pid") is None:
            raise PermissionDenied("Only project tokens can be refreshed; log in again for a "
                                   "new session.")
        if claims.get("rfs") is False:
            raise PermissionDenied("This project token was made not refreshable; ask for a "
                                   "new one.")
        with self.db.write() as tx:
            row = tx.conn.execute(
                select(tokens.c.id, tokens.c.project_id, tokens.c.expires_at,
                       tokens.c.revoked_at, users.c.is_active)
                .join(users, users.c.id == tokens.c.user_id)
                .where(tokens.c.kind == "jwt", tokens.c.jti == str(claims["jti"]))
            ).first()
            if row is None or not row.is_active or row.project_id != claims["pid"]:
                raise Unauthenticated("Invalid token.")
            if row.revoked_at is not None:
                raise Unauthenticated("This token has been revoked.")
            now = utcnow()
            lifetime = max(REFRESHED_MIN_LIFETIME, timedelta(
                seconds=int(claims["exp"]) - int(claims.get("iat", claims["exp"]))))
            expires_at = now + lifetime
            if row.expires_at is None or row.expires_at < expires_at:
                tx.execute(update(tokens).where(tokens.c.id == row.id)
                           .values(expires_at=expires_at))
            payload = {**claims, "iat": security.epoch(now), "exp": security.epoch(expires_at)}
            return self._public(tx.conn, row.id), security.encode_jwt(payload, self.secret_key)

    def current(self, principal: Principal) -> dict[str, Any]:
        """The token this principal came from; any token may see itself."""
        with self.db.read() as conn:
            return self._public(conn, principal.token_id)

    def get(self, principal: Principal, token_id: int) -> dict[str, Any]:
        self._manage(principal)
        with self.db.read() as conn:
            return self._owned(conn, principal, token_id)

    def revoke(self, principal: Principal, token_id: int) -> None:
        """Revoke one of the caller's tokens; any token may revoke itself (logout)."""
        if token_id != principal.token_id:
            self._manage(principal)
        with self.db.write() as tx:
            self._owned(tx.conn, principal, token_id)
            tx.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            self.events.publish_after(
                tx, f"user:{principal.user_id}", "token.revoked", {"token_id": token_id}
            )
            self.forget_cached(tx)

    def revoke_all_of(
        self, tx: Tx, user_id: int, *, keep: int | None = None, sessions_only: bool = False
    ) -> None:
        """Revoke a user's tokens (only login sessions, if asked), except `keep`."""
        query = update(tokens).where(
            and_(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None)),
            tokens.c.id != (keep or -1),
        )
        if sessions_only:
            query = query.where(tokens.c.kind == "jwt", tokens.c.name == "session")
        tx.execute(query.values(revoked_at=utcnow()))
        self.forget_cached(tx)

    # --- helpers -----------------------------------------------------------------------------

    def _owned(self, conn: Connection, principal: Principal, token_id: int) -> dict[str, Any]:
        row = conn.execute(
            select(*PUBLIC_COLUMNS).where(
                tokens.c.id == token_id, tokens.c.user_id == principal.user_id
            )
        ).first()
        if row is None:
            raise NotFound(f"No token {token_id}.")
        return self._shape(conn, dict(row._mapping))

    def _public(self, conn: Connection, token_id: int) -> dict[str, Any]:
        row = conn.execute(select(*PUBLIC_COLUMNS).where(tokens.c.id == token_id)).one()
        return self._shape(conn, dict(row._mapping))

    def _shape(self, conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
        project = row.pop("project_id")
        found = self.projects.resolve(conn, project) if project is not None else None
        row["project"] = (
            {"id": found["id"], "gid": gid_of(found["id"]), "name": found["name"]}
            if found
            else None
        )
        row["active"] = row["revoked_at"] is None and (
            row["expires_at"] is None or row["expires_at"] > utcnow()
        )
        return row
