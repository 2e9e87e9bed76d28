"""Project rules: resolving any of a project's ids, the caller's level on it, CRUD, members.

A user's level on a project is the higher of what their org role grants (owner/admin: admin,
member: write) and their project membership (read, write or admin); the token's scope caps it,
and a project token sees only its own project. No level at all answers 404, never 403, so a
project's existence does not leak.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from cloudlet.gid import GidError, ProjectSlug
from cloudlet.server.accounts.directory import UserDirectory
from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.core.schema import utcnow
from cloudlet.server.events.service import EventService
from cloudlet.server.orgs.service import OrgService
from cloudlet.server.projects.tables import project_members, projects

ROLES = {"read": Level.READ, "write": Level.WRITE, "admin": Level.ADMIN}
ORG_GRANTS = {"owner": Level.ADMIN, "admin": Level.ADMIN, "member": Level.WRITE}
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                      r"[0-9a-fA-F]{12}$")


def gid_of(project_id: int) -> str:
    return str(ProjectSlug(project_id))


def _grant(
    principal: Principal, project: dict[str, Any], org_role: str | None, member_role: str | None
) -> Level:
    """The caller's level from its roles, capped by its token."""
    if principal.project_id is not None and principal.project_id != project["id"]:
        return Level.NONE
    granted = max(ORG_GRANTS.get(org_role or "", Level.NONE),
                  ROLES.get(member_role or "", Level.NONE))
    if principal.device_id is not None:
        granted = min(granted, Level.READ)  # device tokens write only their own streams
    return principal.cap(granted)


def check_role(role: str) -> Level:
    if role not in ROLES:
        raise Invalid(f"Unknown project role {role!r}; use one of read, write, admin.")
    return ROLES[role]


class ProjectService:
    def __init__(
        self, db: Database, orgs: OrgService, users: UserDirectory, events: EventService
    ) -> None:
        self.db = db
        self.orgs = orgs
        self.users = users
        self.events = events
        self._delete_hooks: list[Callable[[Tx, dict[str, Any]], None]] = []
        self._rights_hooks: list[Callable[[Tx], None]] = []

    def on_delete(self, hook: Callable[[Tx, dict[str, Any]], None]) -> None:
        """Run `hook(tx, project)` inside the transaction that deletes a project, so other
        domains remove what they keep outside its rows (dataset schemas, files) without
        this domain knowing them."""
        self._delete_hooks.append(hook)

    def on_rights_changed(self, hook: Callable[[Tx], None]) -> None:
        """Run `hook(tx)` in every transaction that changes who may do what in a project
        (members, roles, deletion), so caches of rights can forget them."""
        self._rights_hooks.append(hook)

    def _rights_changed(self, tx: Tx) -> None:
        for hook in self._rights_hooks:
            hook(tx)

    # --- resolving and authorizing: what every other domain calls ------------------------

    def resolve(self, conn: Connection, ref: str | int) -> dict[str, Any] | None:
        """The project named by its int id, its gid (`p--0000-0001`) or its uuid."""
        text = str(ref).strip()
        if text.isdigit():
            where = projects.c.id == int(text)
        elif text.lower().startswith("p--"):
            try:
                where = projects.c.id == ProjectSlug(text).get_id()
            except GidError:
                return None
        elif _UUID_RE.match(text):
            where = projects.c.uuid == str(uuid.UUID(text))
        else:
            return None
        row = conn.execute(select(projects).where(where)).first()
        return dict(row._mapping) if row else None

    def level(self, conn: Connection, principal: Principal, project: dict[str, Any]) -> Level:
        org_role = self.orgs.role_of(conn, project["org_id"], principal.user_id)
        member_role = conn.execute(
            select(project_members.c.role).where(
                project_members.c.project_id == project["id"],
                project_members.c.user_id == principal.user_id,
            )
        ).scalar()
        return _grant(principal, project, org_role, member_role)

    def authorize(
        self, conn: Connection, principal: Principal, ref: str | int, need: Level
    ) -> dict[str, Any]:
        """The project, if the caller has `need` on it: 404 without any right, 403 short of it."""
        project = self.resolve(conn, ref)
        have = Level.NONE if project is None else self.level(conn, principal, project)
        if project is None or have == Level.NONE:
            raise NotFound(f"No project {ref!r}.")
        if have < need:
            principal.require_scope(need, "this")
            raise PermissionDenied(
                f"You have {have.name.lower()} access to project {project['name']!r}; "
                f"this needs {need.name.lower()}."
            )
        return {**project, "access": have}

    def topic(self, conn: Connection, principal: Principal, key: str) -> str:
        """Authorizer of `project:<id>` event topics: read access to the project."""
        return f"project:{self.authorize(conn, principal, key, Level.READ)['id']}"

    # --- the native face's operations -----------------------------------------------------

    def create_in(
        self,
        tx: Tx,
        *,
        org_id: int,
        name: str,
        description: str,
        created_by: int | None,
        is_home: bool = False,
    ) -> dict[str, Any]:
        now = utcnow()
        project_id = tx.execute(
            insert(projects).values(
                uuid=str(uuid.uuid4()),
                org_id=org_id,
                name=name,
                description=description,
                is_home=is_home,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        project = self._row(tx.conn, project_id)
        self._announce(tx, project, "project.created")
        if created_by is not None:
            user = f"user:{created_by}"
            self.events.publish_after(tx, user, "project.created", self._summary(tx.conn, project))
            self.events.publish_after(  # the name AmigoCloud clients listen for
                tx, user, "project:creation_succeeded",
                {"user_id": created_by, "project_id": project_id},
            )
        return project

    def _summary(self, conn: Connection, project: dict[str, Any]) -> dict[str, Any]:
        shown = self._present(conn, project)
        return {k: shown[k] for k in ("id", "uuid", "gid", "name", "description", "org")}

    def _announce(
        self, tx: Tx, project: dict[str, Any], event: str, **extra: Any
    ) -> None:
        data = {**self._summary(tx.conn, project), **extra}
        self.events.publish_after(tx, f"project:{project['id']}", event, data)

    def create(
        self, principal: Principal, *, name: str, description: str, org: str | None
    ) -> dict[str, Any]:
        principal.require_unrestricted("create projects")
        principal.require_scope(Level.WRITE, "creating projects")
        with self.db.write() as tx:
            if org is None:
                target = self.orgs.personal_org(tx.conn, principal.user_id)
            else:
                target = self.orgs.find(tx.conn, principal, org)
            project = self.create_in(
                tx, org_id=target["id"], name=name, description=description,
                created_by=principal.user_id,
            )
            return self._present(tx.conn, {**project, "access": principal.cap(Level.ADMIN)})

    def get(self, principal: Principal, ref: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return self._present(conn, self.authorize(conn, principal, ref, Level.READ))

    def list(
        self,
        principal: Principal,
        *,
        limit: int,
        offset: int,
        org: str | None = None,
        search: str | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            org_roles = self.orgs.roles_of(conn, principal.user_id)
            memberships = conn.execute(
                select(project_members.c.project_id, project_members.c.role).where(
                    project_members.c.user_id == principal.user_id
                )
            )
            member_roles = {row.project_id: row.role for row in memberships}
            if principal.project_id is not None:
                where = projects.c.id == principal.project_id
            else:
                where = or_(
                    projects.c.org_id.in_(list(org_roles)),
                    projects.c.id.in_(list(member_roles)),
                )
            query = select(projects).where(where)
            if org is not None:
                principal.require_unrestricted("list an org's projects")
                query = query.where(projects.c.org_id == self.orgs.find(conn, principal, org)["id"])
            if search:
                query = query.where(func.lower(projects.c.name).contains(search.lower()))
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            page = conn.execute(query.order_by(projects.c.id).limit(limit).offset(offset))
            found = [dict(r._mapping) for r in page]
            slugs = self.orgs.slugs(conn, [p["org_id"] for p in found])
            return total, [
                {
                    **p,
                    "gid": gid_of(p["id"]),
                    "org": slugs[p["org_id"]],
                    "access": _grant(principal, p, org_roles.get(p["org_id"]),
                                     member_roles.get(p["id"])),
                }
                for p in found
            ]

    def update(
        self, principal: Principal, ref: str, *, name: str | None, description: str | None
    ) -> dict[str, Any]:
        with self.db.write() as tx:
            project = self.authorize(tx.conn, principal, ref, Level.WRITE)
            values: dict[str, Any] = {
                k: v for k, v in {"name": name, "description": description}.items()
                if v is not None
            }
            if values:
                tx.execute(
                    update(projects)
                    .where(projects.c.id == project["id"])
                    .values(**values, updated_at=utcnow())
                )
            fresh = {**self._row(tx.conn, project["id"]), "access": project["access"]}
            self._announce(tx, fresh, "project.updated")
            return self._present(tx.conn, fresh)

    def delete(self, principal: Principal, ref: str) -> None:
        with self.db.write() as tx:
            project = self.authorize(tx.conn, principal, ref, Level.ADMIN)
            if project["is_home"]:
                raise Conflict("A user's home project can't be deleted.")
            self._announce(tx, project, "project.deleted")
            for hook in self._delete_hooks:
                hook(tx, project)
            self._rights_changed(tx)
            tx.execute(delete(projects).where(projects.c.id == project["id"]))

    # --- members ---------------------------------------------------------------------------

    def members(
        self, principal: Principal, ref: str, *, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        with self.db.read() as conn:
            project = self.authorize(conn, principal, ref, Level.READ)
            query = select(
                project_members.c.user_id.label("id"),
                project_members.c.role,
                project_members.c.created_at,
            ).where(project_members.c.project_id == project["id"])
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            page = [
                dict(r._mapping)
                for r in conn.execute(
                    query.order_by(project_members.c.created_at, project_members.c.user_id)
                    .limit(limit)
                    .offset(offset)
                )
            ]
            names = self.users.usernames(conn, (m["id"] for m in page))
            return total, [{**m, "username": names[m["id"]]} for m in page]

    def add_member(
        self, principal: Principal, ref: str, *, username: str, role: str
    ) -> dict[str, Any]:
        check_role(role)
        with self.db.write() as tx:
            project = self.authorize(tx.conn, principal, ref, Level.ADMIN)
            user = self.users.by_name(tx.conn, username)
            if self._member_role(tx.conn, project["id"], user["id"]) is not None:
                raise Conflict(f"{user['username']} is already a member of this project.")
            now = utcnow()
            tx.execute(
                insert(project_members).values(
                    project_id=project["id"], user_id=user["id"], role=role, created_at=now
                )
            )
            self._member_event(tx, project, "project.member_added", user, role)
            return {"id": user["id"], "username": user["username"], "role": role,
                    "created_at": now}

    def update_member(
        self, principal: Principal, ref: str, username: str, *, role: str
    ) -> dict[str, Any]:
        check_role(role)
        with self.db.write() as tx:
            project = self.authorize(tx.conn, principal, ref, Level.ADMIN)
            user = self.users.by_name(tx.conn, username)
            where = (
                project_members.c.project_id == project["id"],
                project_members.c.user_id == user["id"],
            )
            if self._member_role(tx.conn, project["id"], user["id"]) is None:
                raise NotFound(f"{username} is not a member of this project.")
            tx.execute(update(project_members).where(*where).values(role=role))
            self._member_event(tx, project, "project.member_updated", user, role)
            created = tx.execute(select(project_members.c.created_at).where(*where)).scalar_one()
            return {"id": user["id"], "username": user["username"], "role": role,
                    "created_at": created}

    def remove_member(self, principal: Principal, ref: str, username: str) -> None:
        with self.db.write() as tx:
            project = self.authorize(tx.conn, principal, ref, Level.READ)
            user = self.users.by_name(tx.conn, username)
            if user["id"] != principal.user_id:  # anyone may leave; removing others is admin
                project = self.authorize(tx.conn, principal, ref, Level.ADMIN)
            if self._member_role(tx.conn, project["id"], user["id"]) is None:
                raise NotFound(f"{username} is not a member of this project.")
            tx.execute(
                delete(project_members).where(
                    project_members.c.project_id == project["id"],
                    project_members.c.user_id == user["id"],
                )
            )
            self._member_event(tx, project, "project.member_removed", user, None)

    # --- helpers -----------------------------------------------------------------------------

    def _member_event(
        self, tx: Tx, project: dict[str, Any], event: str, user: dict[str, Any],
        role: str | None,
    ) -> None:
        self._rights_changed(tx)
        data = {"project_id": project["id"], "user_id": user["id"],
                "username": user["username"], "role": role}
        self.events.publish_after(tx, f"project:{project['id']}", event, data)
        self.events.publish_after(tx, f"user:{user['id']}", event, data)

    def _member_role(self, conn: Connection, project_id: int, user_id: int) -> str | None:
        return conn.execute(
            select(project_members.c.role).where(
                project_members.c.project_id == project_id,
                project_members.c.user_id == user_id,
            )
        ).scalar()

    def _row(self, conn: Connection, project_id: int) -> dict[str, Any]:
        row = conn.execute(select(projects).where(projects.c.id == project_id)).one()
        return dict(row._mapping)

    def _present(self, conn: Connection, project: dict[str, Any]) -> dict[str, Any]:
        org_slug = self.orgs.slugs(conn, [project["org_id"]])[project["org_id"]]
        return {**project, "gid": gid_of(project["id"]), "org": org_slug}

    def home_project(self, conn: Connection, user_id: int) -> dict[str, Any]:
        org = self.orgs.personal_org(conn, user_id)
        row = conn.execute(
            select(projects).where(projects.c.org_id == org["id"], projects.c.is_home.is_(True))
        ).one()
        return self._present(conn, dict(row._mapping))
