"""The domain services of one app, wired once by `create_app` (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from cloudlet.server.accounts.directory import UserDirectory
from cloudlet.server.accounts.service import AccountService
from cloudlet.server.accounts.throttle import LoginThrottle
from cloudlet.server.accounts.tokens import TokenService
from cloudlet.server.core.db import Database
from cloudlet.server.core.idempotency import IdempotencyStore
from cloudlet.server.core.security import Passwords
from cloudlet.server.events.backends import make_bus
from cloudlet.server.events.service import EventService
from cloudlet.server.events.topics import TopicRegistry, user_topic
from cloudlet.server.orgs.service import OrgService
from cloudlet.server.projects.service import ProjectService
from cloudlet.server.settings import Settings
from cloudlet.server.sql.engine import SqlEngine
from cloudlet.server.sql.limits import Limits
from cloudlet.server.sql.service import SqlService


@dataclass
class Services:
    settings: Settings
    db: Database
    orgs: OrgService
    projects: ProjectService
    tokens: TokenService
    accounts: AccountService
    idempotency: IdempotencyStore
    events: EventService
    sql: SqlService

    @classmethod
    def build(cls, settings: Settings, db: Database) -> Services:
        assert settings.secret_key, "Settings.prepare() fills the secret key"
        users = UserDirectory()
        topics = TopicRegistry()
        events = EventService(db, make_bus(settings), topics)
        orgs = OrgService(db, users, events)
        projects = ProjectService(db, orgs, users, events)
        tokens = TokenService(
            db, projects, events, secret_key=settings.secret_key,
            touch_interval=settings.token_touch_interval,
        )
        topics.register("user", user_topic)
        topics.register("project", projects.topic)
        throttle = LoginThrottle(
            db,
            per_account=settings.login_max_failures_account,
            per_address=settings.login_max_failures_ip,
            window=settings.login_throttle_window,
        )
        accounts = AccountService(
            db,
            orgs=orgs,
            projects=projects,
            tokens=tokens,
            throttle=throttle,
            passwords=Passwords(
                time_cost=settings.password_hash_time_cost,
                memory_kib=settings.password_hash_memory_kib,
            ),
            session_ttl=settings.session_ttl,
            registration_open=settings.registration_open,
        )
        sql = SqlService(db, projects, SqlEngine(db, Limits(
            timeout=settings.sql_timeout, max_rows=settings.sql_max_rows,
            max_bytes=settings.sql_max_bytes, max_length=settings.sql_max_length,
        ), settings.secret_key))
        projects.on_delete(sql.drop_project)
        return cls(
            settings=settings,
            db=db,
            orgs=orgs,
            projects=projects,
            tokens=tokens,
            accounts=accounts,
            idempotency=IdempotencyStore(db, ttl=settings.idempotency_ttl),
            events=events,
            sql=sql,
        )
