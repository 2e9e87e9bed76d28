"""Failed-login throttle, per account and per client address, kept in the database.

Counters live in the shared database (not a worker's memory) so every worker sees them. A key
that reaches its threshold within the window is refused with 429 until the window ends.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cloudlet.server.accounts.tables import login_failures
from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Throttled
from cloudlet.server.core.schema import utcnow


class LoginThrottle:
    def __init__(
        self, db: Database, *, per_account: int, per_address: int, window: int
    ) -> None:
        self.db = db
        self.limits = {"account": per_account, "address": per_address}
        self.window = timedelta(seconds=window)

    @staticmethod
    def keys(account: str, address: str) -> dict[str, str]:
        return {"account": f"account:{account.lower()}", "address": f"address:{address}"}

    def check(self, account: str, address: str) -> None:
        """Raise `Throttled` if either key is locked out."""
        now = utcnow()
        with self.db.read() as conn:
            for kind, key in self.keys(account, address).items():
                row = conn.execute(
                    select(login_failures).where(login_failures.c.key == key)
                ).first()
                if row is None or now - row.window_start >= self.window:
                    continue
                if row.failures >= self.limits[kind]:
                    wait = (row.window_start + self.window - now).total_seconds()
                    raise Throttled(
                        f"Too many failed logins for this {kind}; try again in {int(wait) + 1} s.",
                        retry_after=int(wait) + 1,
                    )

    def failed(self, account: str, address: str) -> None:
        """Count a failure for both keys; concurrent workers may race on a new key."""
        now = utcnow()
        with self.db.write() as tx:
            for key in self.keys(account, address).values():
                counted = tx.execute(
                    update(login_failures)
                    .where(login_failures.c.key == key,
                           login_failures.c.window_start > now - self.window)
                    .values(failures=login_failures.c.failures + 1)
                ).rowcount
                if counted:
                    continue
                try:  # no row yet, or only an expired one
                    with tx.conn.begin_nested():
                        tx.execute(
                            insert(login_failures).values(key=key, failures=1, window_start=now)
                        )
                except IntegrityError:
                    tx.execute(
                        update(login_failures)
                        .where(login_failures.c.key == key)
                        .values(failures=1, window_start=now)
                    )

    def succeeded(self, account: str) -> None:
        with self.db.write() as tx:
            tx.execute(
                delete(login_failures).where(
                    login_failures.c.key == self.keys(account, "")["account"]
                )
            )
