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
from cloudlet.server.datasets.imports import ImportService
from cloudlet.server.datasets.readers.formats import ZipLimits
from cloudlet.server.datasets.service import DatasetService
from cloudlet.server.datasets.storage import make_storage
from cloudlet.server.events.backends import make_bus
from cloudlet.server.events.service import EventService
from cloudlet.server.events.topics import TopicRegistry, user_topic
from cloudlet.server.orgs.service import OrgService
from cloudlet.server.projects.service import ProjectService
from cloudlet.server.settings import Settings


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
    datasets: DatasetService
    imports: ImportService

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
        storage = make_storage(settings, db)
        datasets = DatasetService(db, projects, events, storage)
        imports = ImportService(
            db, datasets, storage, workdir=settings.data_dir / "tmp" / "imports",
            limits=ZipLimits(max_files=settings.dataset_zip_max_files,
                             max_total=settings.dataset_zip_max_bytes,
                             max_ratio=settings.dataset_zip_max_ratio),
            concurrency=settings.dataset_import_concurrency,
        )
        topics.register("dataset", datasets.topic)
        projects.on_delete(datasets.on_project_deleted)
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
        return cls(
            settings=settings,
            db=db,
            orgs=orgs,
            projects=projects,
            tokens=tokens,
            accounts=accounts,
            idempotency=IdempotencyStore(db, ttl=settings.idempotency_ttl),
            events=events,
            datasets=datasets,
            imports=imports,
        )
