"""Idempotency keys: the first POST with a key runs; a retry with the same key gets the stored
answer instead of running again. Keys are scoped to the presented credentials."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cloudlet.server.core.db import Database
from cloudlet.server.core.idempotency_table import idempotency_keys as keys
from cloudlet.server.core.schema import utcnow

ABANDONED_AFTER = timedelta(minutes=5)  # a pending claim this old lost its worker


@dataclass(frozen=True)
class Stored:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Claim:
    """Outcome of `IdempotencyStore.claim`: run the request, replay, or refuse."""

    RUN, REPLAY, IN_FLIGHT, MISMATCH = "run", "replay", "in_flight", "mismatch"

    def __init__(self, state: str, stored: Stored | None = None) -> None:
        self.state = state
        self.stored = stored


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database, *, ttl: int) -> None:
        self.db = db
        self.ttl = timedelta(seconds=ttl)

    def claim(self, key_hash: str, fingerprint: str) -> Claim:
        now = utcnow()
        with self.db.write() as tx:
            row = tx.execute(select(keys).where(keys.c.key_hash == key_hash)).first()
            stale = row is not None and (
                now - row.created_at > self.ttl
                or (row.state == "pending" and now - row.created_at > ABANDONED_AFTER)
            )
            if row is not None and not stale:
                if row.fingerprint != fingerprint:
                    return Claim(Claim.MISMATCH)
                if row.state == "pending":
                    return Claim(Claim.IN_FLIGHT)
                headers = [tuple(h) for h in json.loads(row.headers)]
                return Claim(Claim.REPLAY, Stored(row.status, headers, row.body))  # type: ignore[arg-type]
            if stale:
                tx.execute(delete(keys).where(keys.c.key_hash == key_hash))
            try:
                with tx.conn.begin_nested():
                    tx.execute(
                        insert(keys).values(
                            key_hash=key_hash, fingerprint=fingerprint, state="pending",
                            created_at=now,
                        )
                    )
            except IntegrityError:  # another worker claimed it a moment ago
                return Claim(Claim.IN_FLIGHT)
        return Claim(Claim.RUN)

    def complete(self, key_hash: str, answer: Stored) -> None:
        with self.db.write() as tx:
            tx.execute(
                update(keys)
                .where(keys.c.key_hash == key_hash)
                .values(
                    state="done",
                    status=answer.status,
                    headers=json.dumps(answer.headers),
                    body=answer.body,
                )
            )

    def release(self, key_hash: str) -> None:
        """Forget a claim whose request failed on our side, so a retry runs it again."""
        with self.db.write() as tx:
            tx.execute(delete(keys).where(keys.c.key_hash == key_hash))

    def purge_expired(self) -> None:
        with self.db.write() as tx:
            tx.execute(delete(keys).where(keys.c.created_at < utcnow() - self.ttl))
