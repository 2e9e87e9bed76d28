"""The first wall: the parsed statement is checked before anything runs, on both backends.

Deny by default: every node of the tree must be of a kind listed here, every function on the
allow-list, every cast to an allowed type, every table one of the project's dataset tables or a
CTE in scope; the statement kind must suit the HTTP method. What is refused names its part.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sqlglot import exp

from cloudlet.server.sql.dialect import Refused, parse, render
from cloudlet.server.sql.spatial import FUNCTIONS as SPATIAL

MAX_DEPTH = 200

# functions both backends run the same way (names as PostgreSQL spells them)
SQL_FUNCTIONS = frozenset({
    "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "string_agg",
    "coalesce", "nullif", "greatest", "least",
    "lower", "upper", "length", "substring", "trim", "ltrim", "rtrim", "replace", "position",
    "abs", "round", "ceil", "floor", "sqrt", "power", "ln", "exp", "sign", "random",
    "row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value", "ntile",
})
FUNCTIONS = SQL_FUNCTIONS | frozenset(SPATIAL)

T = exp.DataType.Type
CAST_TYPES = frozenset({T.INT, T.BIGINT, T.SMALLINT, T.DOUBLE, T.FLOAT, T.DECIMAL, T.TEXT,
                        T.VARCHAR, T.CHAR, T.BOOLEAN, T.DATE, T.TIMESTAMP, T.GEOMETRY,
                        T.GEOGRAPHY})

# tree nodes a statement may contain besides functions (deny by default)
NODES: tuple[type[exp.Expression], ...] = (
    exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.From, exp.Join,
    exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset,
    exp.Distinct, exp.With, exp.CTE, exp.TableAlias, exp.Table, exp.Column, exp.Identifier,
    exp.Star, exp.Alias, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple, exp.Values,
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is,
    exp.In, exp.Between, exp.Like, exp.ILike, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Add,
    exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.DPipe, exp.Window, exp.WindowSpec,
    exp.Filter, exp.DataType, exp.DataTypeParam, exp.Var, exp.If, exp.Case, exp.Cast,
    exp.Exists, exp.Update, exp.Insert, exp.Delete, exp.Schema, exp.Returning,
)
# bare words PostgreSQL evaluates as functions (`SELECT user`); a column by that name is quoted
SQL_VALUE_WORDS = frozenset({"user", "current_user", "session_user", "current_role",
                             "current_schema", "current_catalog", "system_user"})
READS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
WRITES = (exp.Insert, exp.Update, exp.Delete)
_LEADING_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


@dataclass(frozen=True)
class Checked:
    """A statement that passed the wall."""

    tree: exp.Expression
    kind: str  # select | insert | update | delete
    tables: frozenset[str]  # the dataset tables it reads or writes
    target: str | None  # the table a write changes

    @property
    def writes(self) -> bool:
        return self.kind != "select"


def identifier_name(ident: exp.Expression | None) -> str:
    """A name as PostgreSQL resolves it: unquoted names fold to lower case."""
    if not isinstance(ident, exp.Identifier):
        return ident.name if ident is not None else ""
    return ident.this if ident.quoted else ident.this.lower()


def function_name(node: exp.Func) -> str:
    """The name PostgreSQL sees for a function node (sqlglot renames some on output)."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    found = _LEADING_NAME.match(render(node, "postgres"))
    return found.group(1).lower() if found else type(node).__name__.lower()


def check(sql: str, *, tables: Collection[str], allow_writes: bool, max_length: int
          ) -> Checked:
    if len(sql) > max_length:
        raise Refused(f"The query is {len(sql)} characters long; the limit is {max_length}.")
    tree = parse(sql)
    kind = _statement_kind(tree, allow_writes)
    _check_depth(tree)
    allowed = set(tables)
    used: set[str] = set()
    for node in tree.walk():
        _check_node(node, tree)
        if isinstance(node, exp.Table):
            name = _table_name(node)
            if _is_cte(node, name):
                continue
            if name not in allowed:
                raise Refused(_unknown_table(name, node, allowed))
            used.add(name)
    target = _target(tree) if kind != "select" else None
    if target is not None and target not in allowed:
        raise Refused(f"{kind.upper()} may only change this project's dataset tables, "
                      f"not {target!r}.")
    return Checked(tree=tree, kind=kind, tables=frozenset(used), target=target)


def _statement_kind(tree: exp.Expression, allow_writes: bool) -> str:
    if isinstance(tree, READS):
        return "select"
    if isinstance(tree, WRITES):
        if not allow_writes:
            raise Refused(f"GET runs read-only statements (SELECT, WITH); send "
                          f"{type(tree).__name__.upper()} with POST.")
        return type(tree).__name__.lower()
    raise Refused(f"{_describe_statement(tree)} statements are not allowed here; Cloudlet SQL "
                  f"runs SELECT (GET and POST) and INSERT, UPDATE, DELETE (POST).")


def _describe_statement(tree: exp.Expression) -> str:
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    if isinstance(tree, exp.Create | exp.Drop | exp.Alter):
        return f"{type(tree).__name__.upper()} (DDL)"
    if isinstance(tree, exp.Values):
        return "Bare VALUES (use SELECT * FROM (VALUES …) AS v(a, b))"
    return type(tree).__name__.upper()


def _check_depth(tree: exp.Expression) -> None:
    stack: list[tuple[exp.Expression, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(f"The statement nests deeper than {MAX_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _check_node(node: exp.Expression, root: exp.Expression) -> None:
    if isinstance(node, WRITES) and node is not root:
        raise Refused(f"{type(node).__name__.upper()} is only allowed as the whole statement, "
                      f"not inside another one.")
    if isinstance(node, exp.Cast):
        _check_cast(node)
    elif isinstance(node, exp.Func) and not isinstance(node, NODES):
        name = function_name(node)
        if name not in FUNCTIONS:
            raise Refused(f"The function {name}() is not allowed in Cloudlet SQL.")
        return
    if isinstance(node, exp.Var) and not isinstance(node.parent, exp.DataTypeParam):
        raise Refused(f"The keyword {node.name} is not allowed here.")
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier) \
            and not node.this.quoted and node.this.this.lower() in SQL_VALUE_WORDS:
        raise Refused(f"{node.this.this} is not allowed in Cloudlet SQL (quote a column of "
                      f"that name: \"{node.this.this}\").")
    if isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
        raise Refused(f"Qualified names such as {render(node, 'postgres')} are not allowed; "
                      f"name columns as table.column.")
    if isinstance(node, exp.Select) and node.args.get("into") is not None:
        raise Refused("SELECT … INTO creates a table; it is not allowed.")
    if isinstance(node, exp.Select) and node.args.get("locks"):
        raise Refused("Locking clauses (FOR UPDATE/SHARE) are not allowed.")
    if isinstance(node, exp.Select) and isinstance(node.args.get("distinct"), exp.Distinct) \
            and node.args["distinct"].args.get("on") is not None:
        raise Refused("DISTINCT ON is not supported; use a window function.")
    if isinstance(node, exp.Limit | exp.Offset):
        value = node.expression
        if not (isinstance(value, exp.Literal) and not value.is_string
                and str(value.this).isdigit()):
            raise Refused("LIMIT and OFFSET take whole numbers.")
    if isinstance(node, exp.Insert) and (node.args.get("conflict") or node.args.get("overwrite")
                                         or node.args.get("alternative")):
        raise Refused("INSERT … ON CONFLICT and its variants are not supported.")
    if not isinstance(node, NODES):
        raise Refused(f"{_describe_node(node)} is not allowed in Cloudlet SQL.")


def _describe_node(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return f"The {str(node.this).upper()} command"
    if isinstance(node, exp.Placeholder | exp.Parameter):
        return "A parameter placeholder"
    try:
        text = render(node, "postgres")
    except Refused:
        text = type(node).__name__
    return f"{type(node).__name__} ({text[:60]})"


def _check_cast(node: exp.Cast) -> None:
    to = node.args.get("to")
    if not isinstance(to, exp.DataType) or to.this not in CAST_TYPES:
        shown = render(to, "postgres") if isinstance(to, exp.Expression) else "?"
        raise Refused(f"Casting to {shown} is not allowed in Cloudlet SQL.")


def _table_name(node: exp.Table) -> str:
    if not isinstance(node.this, exp.Identifier):
        shown = render(node.this, "postgres") if isinstance(node.this, exp.Expression) else ""
        raise Refused(f"Table functions such as {shown[:60]} are not allowed.")
    if node.args.get("db") or node.args.get("catalog"):
        raise Refused(f"Schema-qualified tables such as {render(node, 'postgres')} are not "
                      f"allowed; name this project's datasets as dataset_<id>.")
    return identifier_name(node.this)


def _cte_names(with_: exp.Expression, ctes: list[exp.Expression] | None = None) -> set[str]:
    return {identifier_name(cte.args["alias"].this)
            for cte in (ctes if ctes is not None else with_.expressions)
            if isinstance(cte, exp.CTE) and cte.args.get("alias") is not None}


def _is_cte(node: exp.Table, name: str) -> bool:
    """Whether a table reference names a CTE in scope (PostgreSQL's scoping: a CTE sees the
    ones before it in its WITH, or all of them in WITH RECURSIVE)."""
    child: exp.Expression = node
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = list(parent.expressions)
            position = next(i for i, c in enumerate(ctes) if c is child)
            visible = ctes if parent.args.get("recursive") else ctes[:position]
            if name in _cte_names(parent, visible):
                return True
        else:
            with_ = parent.args.get("with_")
            if isinstance(with_, exp.With) and with_ is not child \
                    and name in _cte_names(with_):
                return True
        child, parent = parent, parent.parent
    return False


def _target(tree: exp.Expression) -> str | None:
    this = tree.this
    if isinstance(this, exp.Schema):
        this = this.this
    return _table_name(this) if isinstance(this, exp.Table) else None


def _unknown_table(name: str, node: exp.Table, allowed: set[str]) -> str:
    if re.fullmatch(r"dataset_\d+", name):
        return f"This project has no dataset table {name}."
    hint = ", ".join(sorted(allowed)[:10]) or "none yet"
    return (f"The table {name!r} is not one of this project's dataset tables "
            f"(dataset_<id>; this project has: {hint}).")


def walk_tables(tree: exp.Expression) -> Iterator[exp.Table]:
    yield from tree.find_all(exp.Table)
