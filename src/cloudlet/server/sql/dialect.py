"""Parsing user SQL: PostgreSQL as sqlglot reads it, with PostGIS's names kept as written.

sqlglot's Postgres parser maps a few PostGIS functions onto its own generic nodes (`ST_MakePoint`
becomes `ST_POINT`), which would change both what runs and how the result column is named; here
every `ST_*` call stays the function the user wrote.
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from cloudlet.server.core.errors import Invalid


class CloudletPostgres(Postgres):
    class Parser(Postgres.Parser):
        FUNCTIONS = {k: v for k, v in Postgres.Parser.FUNCTIONS.items()
                     if not k.startswith("ST_")}


# statements sqlglot cannot parse fall back to a Command node, which the wall refuses anyway
logging.getLogger("sqlglot").setLevel(logging.ERROR)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Refused(Invalid):
    """A statement the sandbox does not run (400, naming the offending part)."""


def parse(sql: str) -> exp.Expression:
    """Exactly one statement, or Refused."""
    try:
        statements = sqlglot.parse(sql, dialect=CloudletPostgres, error_level=ErrorLevel.RAISE)
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        reason = _ANSI.sub("", str(first.get("description") or error)).split("\n")[0]
        raise Refused(f"SQL syntax error{where}: {reason}.") from None
    except TokenError as error:
        raise Refused(f"SQL syntax error: {_ANSI.sub('', str(error))}.") from None
    except RecursionError:
        raise Refused("The statement is too deeply nested.") from None
    found = [s for s in statements if s is not None]
    if not found:
        raise Refused("The query is empty.")
    if len(found) > 1:
        raise Refused(f"Send one statement per request; this query has {len(found)}.")
    return found[0]


def render(node: exp.Expression, dialect: str) -> str:
    """SQL text of a checked tree, without comments (what runs is what was checked)."""
    try:
        return node.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.RAISE)
    except RecursionError:
        raise Refused("The statement is too deeply nested.") from None
    except sqlglot.errors.UnsupportedError as error:
        raise Refused(f"Not supported on this server's database: {error}.") from None
