"""The cast of the authorization table, made once per server through the real API."""

from __future__ import annotations

import time
from typing import Any

from tests.support.accounts import TestUser, login, make_user, unique
from tests.support.live import LiveServer


class World:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.owner = make_user(server, "own")
        self.member = make_user(server, "mem")
        self.outsider = make_user(server, "out")
        with self.owner.client() as c:
            self.org = c.post("/orgs", json={"name": unique("acme")}).json()
            c.post(f"/orgs/{self.org['slug']}/members",
                   json={"username": self.member.username, "role": "member"}).raise_for_status()
            self.project = c.post("/projects", json={"name": "target", "org": self.org["slug"]}
                                  ).json()
            self.other_project = c.post("/projects", json={"name": "other"}).json()
        self.tokens: dict[str, str | None] = {"anonymous": None}
        self.refresh_sessions()
        for scope in ("read", "write", "admin"):
            self.tokens[f"{scope}_token"] = self.owner.api_token(scope=scope)
        self.tokens["project_token"] = self.owner.api_token(
            scope="write", project=self.project["id"])
        self.tokens["other_project_token"] = self.owner.api_token(
            scope="write", project=self.other_project["id"])
        self.tokens["expired_token"] = self.owner.api_token(scope="admin", expires_in=1)
        with self.owner.client() as c:
            revoked = c.post("/tokens", json={"scope": "admin"}).json()
            c.delete(f"/tokens/{revoked['id']}").raise_for_status()
        self.tokens["revoked_token"] = revoked["token"]
        time.sleep(1.1)  # let the expired token expire

    def refresh_sessions(self) -> None:
        s = self.server
        for caller, user in (("owner", self.owner), ("org_member", self.member),
                             ("outsider", self.outsider)):
            user.token = login(s, user.username, user.password)
            self.tokens[caller] = user.token
        self.tokens["superuser"] = login(s, s.admin_username, s.admin_password)

    def fresh_token(self, caller: str) -> str | None:
        """A new credential of the same kind, for calls that use theirs up."""
        s = self.server
        sessions = {"owner": self.owner, "org_member": self.member, "outsider": self.outsider}
        if caller in sessions:
            return login(s, sessions[caller].username, sessions[caller].password)
        if caller == "superuser":
            return login(s, s.admin_username, s.admin_password)
        if caller in ("read_token", "write_token", "admin_token"):
            return self.owner.api_token(scope=caller.split("_")[0])
        if caller == "project_token":
            return self.owner.api_token(scope="write", project=self.project["id"])
        if caller == "other_project_token":
            return self.owner.api_token(scope="write", project=self.other_project["id"])
        return self.tokens[caller]

    def password_of(self, caller: str) -> str:
        if caller == "org_member":
            return self.member.password
        if caller == "outsider":
            return self.outsider.password
        if caller == "superuser":
            return self.server.admin_password
        return self.owner.password

    # --- fresh objects for calls that change or delete their target ---------------------

    def new_user(self) -> TestUser:
        return make_user(self.server, "x")

    def owner_client(self) -> Any:
        return self.owner.client()

    def defaults(self) -> dict[str, Any]:
        return {
            "project": self.project["id"],
            "slug": self.org["slug"],
            "username": self.member.username,
            "user_id": self.member.id,
        }
