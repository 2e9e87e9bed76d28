"""Org rules: who sees an org, who may change it, and how membership roles move.

Roles: `owner` (everything, including deleting the org and naming other owners), `admin`
(edits the org and manages non-owner members), `member` (sees the org, creates projects in it).
An org never loses its last owner; a personal org can't be deleted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from cloudlet.server.accounts.directory import UserDirectory
from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.events.service import EventService
from cloudlet.server.orgs.tables import org_members, orgs

ROLES = ("member", "admin", "owner")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:50]
    return slug or "org"


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"Unknown org role {role!r}; use one of {', '.join(ROLES)}.")
    return role


class OrgService:
    def __init__(self, db: Database, users: UserDirectory, events: EventService) -> None:
        self.db = db
        self.users = users
        self.events = events
        self._rights_hooks: list[Callable[[Tx], None]] = []

    def on_rights_changed(self, hook: Callable[[Tx], None]) -> None:
        """Run `hook(tx)` in every transaction that changes who may do what in an org's
        projects (members, roles, deletion), so caches of rights can forget them."""
        self._rights_hooks.append(hook)

    def _rights_changed(self, tx: Tx) -> None:
        for hook in self._rights_hooks:
            hook(tx)

    # --- building blocks other services compose into their own transactions -------------

    def slug_taken(self, conn: Connection, slug: str) -> bool:
        return conn.execute(select(orgs.c.id).where(orgs.c.slug == slug)).first() is not None

    def create_in(
        self,
        tx: Tx,
        *,
        slug: str,
        name: str,
        about: str,
        owner_id: int,
        personal: bool = False,
    ) -> dict[str, Any]:
        if not SLUG_RE.match(slug):
            raise Invalid(
                f"Org slug {slug!r} must be 1-50 lowercase letters, digits, '-' or '_', "
                "starting with a letter or digit."
            )
        if self.slug_taken(tx.conn, slug):
            raise Conflict(f"The name {slug!r} is already taken by another org or user.")
        now = utcnow()
        org_id = tx.execute(
            insert(orgs).values(
                slug=slug,
                name=name,
                about=about,
                personal_user_id=owner_id if personal else None,
                created_at=now,
            )
        ).inserted_primary_key[0]
        tx.execute(
            insert(org_members).values(
                org_id=org_id, user_id=owner_id, role="owner", created_at=now
            )
        )
        org = self._row(tx.conn, org_id)
        self._announce(tx, org, "org.created")
        return org

    def role_of(self, conn: Connection, org_id: int, user_id: int) -> str | None:
        return conn.execute(
            select(org_members.c.role).where(
                org_members.c.org_id == org_id, org_members.c.user_id == user_id
            )
        ).scalar()

    def personal_org(self, conn: Connection, user_id: int) -> dict[str, Any]:
        row = conn.execute(select(orgs).where(orgs.c.personal_user_id == user_id)).first()
        assert row is not None, "every user has a personal org"
        return dict(row._mapping)

    def find(self, conn: Connection, principal: Principal, slug: str) -> dict[str, Any]:
        """The org and the caller's role in it; 404 for orgs the caller isn't a member of."""
        row = conn.execute(select(orgs).where(orgs.c.slug == slug.lower())).first()
        role = row and self.role_of(conn, row.id, principal.user_id)
        if row is None or role is None:
            raise NotFound(f"No org {slug!r}.")
        return {**row._mapping, "role": role}

    def _announce(
        self,
        tx: Tx,
        org: dict[str, Any],
        event: str,
        *,
        user: dict[str, Any] | None = None,
        role: str | None = None,
    ) -> None:
        """Org events go to the user topic of every member (and of the member concerned)."""
        data: dict[str, Any] = {"id": org["id"], "slug": org["slug"], "name": org["name"],
                                "about": org["about"]}
        audience = set(
            tx.execute(
                select(org_members.c.user_id).where(org_members.c.org_id == org["id"])
            ).scalars()
        )
        if user is not None:
            data = {"org": data, "user_id": user["id"], "username": user["username"],
                    "role": role}
            audience.add(user["id"])
        for user_id in sorted(audience):
            self.events.publish_after(tx, f"user:{user_id}", event, data)

    def _row(self, conn: Connection, org_id: int) -> dict[str, Any]:
        return dict(conn.execute(select(orgs).where(orgs.c.id == org_id)).one()._mapping)

    # --- the native face's operations -----------------------------------------------------

    def list(
        self, principal: Principal, *, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        principal.require_unrestricted("list orgs")
        mine = (
            select(orgs, org_members.c.role)
            .join(org_members, org_members.c.org_id == orgs.c.id)
            .where(org_members.c.user_id == principal.user_id)
        )
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(mine.subquery())).scalar_one()
            page = conn.execute(mine.order_by(orgs.c.slug).limit(limit).offset(offset))
            return total, [dict(r._mapping) for r in page]

    def create(
        self, principal: Principal, *, name: str, slug: str | None, about: str
    ) -> dict[str, Any]:
        principal.require_unrestricted("create orgs")
        principal.require_scope(Level.WRITE, "creating orgs")
        with self.db.write() as tx:
            org = self.create_in(
                tx, slug=slug or slugify(name), name=name, about=about, owner_id=principal.user_id
            )
        return {**org, "role": "owner"}

    def get(self, principal: Principal, slug: str) -> dict[str, Any]:
        principal.require_unrestricted("read orgs")
        with self.db.read() as conn:
            return self.find(conn, principal, slug)

    def update(
        self, principal: Principal, slug: str, *, name: str | None, about: str | None
    ) -> dict[str, Any]:
        principal.require_unrestricted("change orgs")
        with self.db.write() as tx:
            org = self.find(tx.conn, principal, slug)
            self._require_role(principal, org, "admin", "change this org")
            principal.require_scope(Level.WRITE, "changing orgs")
            values = {k: v for k, v in {"name": name, "about": about}.items() if v is not None}
            if values:
                tx.execute(update(orgs).where(orgs.c.id == org["id"]).values(**values))
            fresh = self._row(tx.conn, org["id"])
            self._announce(tx, fresh, "org.updated")
            return {**fresh, "role": org["role"]}

    def delete(self, principal: Principal, slug: str) -> None:
        principal.require_unrestricted("delete orgs")
        with self.db.write() as tx:
            org = self.find(tx.conn, principal, slug)
            self._require_role(principal, org, "owner", "delete this org")
            principal.require_scope(Level.ADMIN, "deleting orgs")
            if org["personal_user_id"] is not None:
                raise Conflict("A personal org can't be deleted.")
            self._announce(tx, org, "org.deleted")
            self._rights_changed(tx)
            tx.execute(delete(orgs).where(orgs.c.id == org["id"]))

    # --- members ---------------------------------------------------------------------------

    def members(
        self, principal: Principal, slug: str, *, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        principal.require_unrestricted("read org members")
        with self.db.read() as conn:
            org = self.find(conn, principal, slug)
            query = select(
                org_members.c.user_id.label("id"), org_members.c.role, org_members.c.created_at
            ).where(org_members.c.org_id == org["id"])
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            page = [
                dict(r._mapping)
                for r in conn.execute(
                    query.order_by(org_members.c.created_at, org_members.c.user_id)
                    .limit(limit)
                    .offset(offset)
                )
            ]
            names = self.users.usernames(conn, (m["id"] for m in page))
            return total, [{**m, "username": names[m["id"]]} for m in page]

    def add_member(
        self, principal: Principal, slug: str, *, username: str, role: str
    ) -> dict[str, Any]:
        check_role(role)
        with self.db.write() as tx:
            org = self._for_membership_change(tx.conn, principal, slug, role)
            user = self.users.by_name(tx.conn, username)
            if self.role_of(tx.conn, org["id"], user["id"]) is not None:
                raise Conflict(f"{user['username']} is already a member of {org['slug']}.")
            now = utcnow()
            tx.execute(
                insert(org_members).values(
                    org_id=org["id"], user_id=user["id"], role=role, created_at=now
                )
            )
            self._rights_changed(tx)
            self._announce(tx, org, "org.member_added", user=user, role=role)
            return {"id": user["id"], "username": user["username"], "role": role,
                    "created_at": now}

    def update_member(
        self, principal: Principal, slug: str, username: str, *, role: str
    ) -> dict[str, Any]:
        check_role(role)
        with self.db.write() as tx:
            org = self._for_membership_change(tx.conn, principal, slug, role)
            user, current = self._member(tx.conn, org, username)
            if current == "owner" or role == "owner":
                self._require_role(principal, org, "owner", "change an owner")
            if current == "owner" and role != "owner":
                self._keep_an_owner(tx.conn, org)
            tx.execute(
                update(org_members)
                .where(org_members.c.org_id == org["id"], org_members.c.user_id == user["id"])
                .values(role=role)
            )
            self._rights_changed(tx)
            self._announce(tx, org, "org.member_updated", user=user, role=role)
            row = tx.execute(
                select(org_members.c.created_at).where(
                    org_members.c.org_id == org["id"], org_members.c.user_id == user["id"]
                )
            ).scalar_one()
            return {"id": user["id"], "username": user["username"], "role": role,
                    "created_at": row}

    def remove_member(self, principal: Principal, slug: str, username: str) -> None:
        principal.require_unrestricted("change org members")
        with self.db.write() as tx:
            org = self.find(tx.conn, principal, slug)
            user, current = self._member(tx.conn, org, username)
            leaving = user["id"] == principal.user_id
            if not leaving:
                self._require_role(principal, org, "admin", "remove members")
                principal.require_scope(Level.ADMIN, "changing org members")
                if current == "owner":
                    self._require_role(principal, org, "owner", "remove an owner")
            if current == "owner":
                self._keep_an_owner(tx.conn, org)
            self._rights_changed(tx)
            self._announce(tx, org, "org.member_removed", user=user, role=None)
            tx.execute(
                delete(org_members).where(
                    org_members.c.org_id == org["id"], org_members.c.user_id == user["id"]
                )
            )

    def _for_membership_change(
        self, conn: Connection, principal: Principal, slug: str, role: str
    ) -> dict[str, Any]:
        principal.require_unrestricted("change org members")
        org = self.find(conn, principal, slug)
        self._require_role(principal, org, "admin", "manage members")
        principal.require_scope(Level.ADMIN, "changing org members")
        if role == "owner":
            self._require_role(principal, org, "owner", "name owners")
        if org["personal_user_id"] is not None and role == "owner":
            raise Conflict("A personal org has exactly one owner.")
        return org

    def _member(
        self, conn: Connection, org: dict[str, Any], username: str
    ) -> tuple[dict[str, Any], str]:
        user = self.users.by_name(conn, username)
        role = self.role_of(conn, org["id"], user["id"])
        if role is None:
            raise NotFound(f"{username} is not a member of {org['slug']}.")
        return user, role

    def _keep_an_owner(self, conn: Connection, org: dict[str, Any]) -> None:
        owners = conn.execute(
            select(func.count()).where(
                org_members.c.org_id == org["id"], org_members.c.role == "owner"
            )
        ).scalar_one()
        if owners <= 1:
            raise Conflict(f"{org['slug']} must keep at least one owner.")

    @staticmethod
    def _require_role(principal: Principal, org: dict[str, Any], role: str, action: str) -> None:
        if ROLES.index(org["role"]) < ROLES.index(role):
            raise PermissionDenied(f"Only an org {role} can {action}.")


    def roles_of(self, conn: Connection, user_id: int) -> dict[int, str]:
        """The user's role in each of their orgs, by org id."""
        found = conn.execute(
            select(org_members.c.org_id, org_members.c.role).where(
                org_members.c.user_id == user_id
            )
        )
        return {row.org_id: row.role for row in found}

    def slugs(self, conn: Connection, org_ids: list[int]) -> dict[int, str]:
        if not org_ids:
            return {}
        found = conn.execute(select(orgs.c.id, orgs.c.slug).where(orgs.c.id.in_(set(org_ids))))
        return {row.id: row.slug for row in found}
