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
from cloudlet.server.datasets.galleries import GalleryService
from cloudlet.server.datasets.imports import ImportService
from cloudlet.server.datasets.readers.formats import ZipLimits
from cloudlet.server.datasets.service import DatasetService
from cloudlet.server.datasets.sql_catalog import DatasetSqlCatalog
from cloudlet.server.datasets.storage import make_storage
from cloudlet.server.events.backends import make_bus
from cloudlet.server.events.service import EventService
from cloudlet.server.events.topics import TopicRegistry, user_topic
from cloudlet.server.files.blobs import BlobRegistry
from cloudlet.server.files.blobstore import make_blob_store
from cloudlet.server.files.service import FileService
from cloudlet.server.files.uploads import UploadSessions
from cloudlet.server.orgs.service import OrgService
from cloudlet.server.projects.service import ProjectService
from cloudlet.server.settings import Settings
from cloudlet.server.sql.engine import SqlEngine
from cloudlet.server.sql.limits import Limits
from cloudlet.server.sql.service import SqlService
from cloudlet.server.timeseries.devices import DeviceService
from cloudlet.server.timeseries.ingest import IngestService
from cloudlet.server.timeseries.parse_helpers import ParseHelpers
from cloudlet.server.timeseries.queries import QueryService
from cloudlet.server.timeseries.reports import ReportService
from cloudlet.server.timeseries.store import PointStore
from cloudlet.server.timeseries.stream_events import StreamEventService
from cloudlet.server.timeseries.streams import StreamService
from cloudlet.server.timeseries.writer import Writer


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
    devices: DeviceService
    streams: StreamService
    ingest: IngestService
    stream_events: StreamEventService
    files: FileService
    datasets: DatasetService
    imports: ImportService
    galleries: GalleryService
    sql: SqlService
    queries: QueryService
    reports: ReportService

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
        orgs.on_rights_changed(tokens.forget_cached)
        projects.on_rights_changed(tokens.forget_cached)
        topics.register("user", user_topic)
        topics.register("project", projects.topic)
        storage = make_storage(settings, db)
        datasets = DatasetService(db, projects, events, storage)
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
        devices = DeviceService(db, projects, tokens, events)
        streams = StreamService(db, projects, devices)
        topics.register("stream", streams.topic)
        store = PointStore(is_postgres=not db.is_sqlite, compress=settings.points_compression)
        writer = Writer(db, store, devices, streams, events,
                        max_queued=settings.write_queue_points)
        projects.on_delete(lambda tx, project: writer.forget_soon())
        ingest = IngestService(db, projects, devices, streams, store, writer, tokens.cache,
                               ParseHelpers(settings.parse_helpers, writer.busy))
        projects.on_delete(lambda tx, project: ingest.forget())
        blobs = BlobRegistry(db, make_blob_store(settings.blob_url, settings.data_dir),
                             max_size=settings.max_file_size)
        uploads = UploadSessions(db, blobs, expiry=settings.upload_expiry,
                                 max_chunk=settings.upload_chunk_max)
        files = FileService(db, projects, events, blobs, uploads)
        imports = ImportService(
            db, datasets, storage, files, workdir=settings.data_dir / "tmp" / "imports",
            limits=ZipLimits(max_files=settings.dataset_zip_max_files,
                             max_total=settings.dataset_zip_max_bytes,
                             max_ratio=settings.dataset_zip_max_ratio),
            concurrency=settings.dataset_import_concurrency,
            max_upload=settings.dataset_max_upload,
        )
        galleries = GalleryService(db, datasets, files, events)
        datasets.on_delete(galleries.on_dataset_deleted)
        datasets.on_row_delete(galleries.on_row_deleted)
        projects.on_delete(galleries.on_project_deleted)
        sql = SqlService(db, projects, SqlEngine(db, Limits(
            timeout=settings.sql_timeout, max_rows=settings.sql_max_rows,
            max_bytes=settings.sql_max_bytes, max_length=settings.sql_max_length,
        ), settings.secret_key), catalog=DatasetSqlCatalog(datasets))
        projects.on_delete(sql.drop_project)
        queries = QueryService(db, streams, store)
        reports = ReportService(db, streams, devices, queries)
        return cls(
            settings=settings,
            db=db,
            orgs=orgs,
            projects=projects,
            tokens=tokens,
            accounts=accounts,
            idempotency=IdempotencyStore(db, ttl=settings.idempotency_ttl),
            events=events,
            devices=devices,
            streams=streams,
            ingest=ingest,
            stream_events=StreamEventService(db, streams, events, files),
            files=files,
            datasets=datasets,
            imports=imports,
            galleries=galleries,
            sql=sql,
            queries=queries,
            reports=reports,
        )
