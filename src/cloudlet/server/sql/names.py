"""Result-column names the way PostgreSQL chooses them (its `FigureColname`), so SQLite
answers carry the same names: `count(*)` → `count`, `ST_X(g)` → `st_x`, `x::int` → `x`,
`1::int` → `int4`, anything else → `?column?`."""

from __future__ import annotations

from sqlglot import exp

from cloudlet.server.sql.wall import function_name, identifier_name

UNNAMED = "?column?"
T = exp.DataType.Type
PG_TYPE_NAMES = {
    T.INT: "int4", T.BIGINT: "int8", T.SMALLINT: "int2", T.DOUBLE: "float8",
    T.FLOAT: "float4", T.DECIMAL: "numeric", T.TEXT: "text", T.VARCHAR: "varchar",
    T.CHAR: "bpchar", T.BOOLEAN: "bool", T.DATE: "date", T.TIMESTAMP: "timestamp",
    T.GEOMETRY: "geometry", T.GEOGRAPHY: "geography",
}
# functions PostgreSQL rewrites into others, and so names after them
PG_RENAMES = {"trim": "btrim", "substring": "substring", "position": "position"}


def column_name(node: exp.Expression) -> str:
    return _figure(node) or UNNAMED


def _figure(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Alias):
        return identifier_name(node.args.get("alias"))
    if isinstance(node, exp.Column):
        return identifier_name(node.this) if isinstance(node.this, exp.Identifier) else None
    if isinstance(node, exp.Paren):
        return _figure(node.this)
    if isinstance(node, exp.Cast):
        inner = _figure(node.this)
        if inner:
            return inner
        to = node.args.get("to")
        return PG_TYPE_NAMES.get(to.this) if isinstance(to, exp.DataType) else None
    if isinstance(node, exp.Case | exp.If):
        return "case"
    if isinstance(node, exp.Exists):
        return "exists"
    if isinstance(node, exp.Subquery):
        inner = node.this
        if isinstance(inner, exp.Select) and inner.expressions:
            return _figure(inner.expressions[0])
        return None
    if isinstance(node, exp.Window | exp.Filter):
        return _figure(node.this)
    if isinstance(node, exp.Func):
        name = function_name(node)
        return PG_RENAMES.get(name, name)
    if isinstance(node, exp.Interval):
        return "interval"
    return None
