"""From a checked PostgreSQL tree to what each backend runs: paging and counting on both,
and on SQLite the rewrites its dialect needs.

SQLite rewrites: casts to geometry/geography become Cloudlet functions (SQLite's CAST would
turn a blob into a number); `(VALUES …) AS c(a, b)` becomes a CTE (SQLite has no column
lists on table aliases); values stored into geometry columns are checked like PostGIS checks
geometry(<type>, 4326) and normalised to EWKB; and every
result column gets PostgreSQL's name. `UPDATE … FROM` and `::` casts SQLite runs as they are,
once sqlglot writes them in its dialect.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from cloudlet.server.sql.dialect import render
from cloudlet.server.sql.names import column_name
from cloudlet.server.sql.wall import Checked, identifier_name

T = exp.DataType.Type


def page(tree: exp.Expression, limit: int, offset: int) -> exp.Expression:
    """The statement limited to one page, folding into the statement's own LIMIT/OFFSET."""
    paged = tree.copy()
    own_limit = _int(paged.args.get("limit"))
    own_offset = _int(paged.args.get("offset"))
    if own_limit is not None:
        limit = max(0, min(limit, own_limit - offset))
    paged.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
    paged.set("offset", exp.Offset(expression=exp.Literal.number((own_offset or 0) + offset)))
    return paged


def _int(node: exp.Expression | None) -> int | None:
    return None if node is None else int(node.expression.this)


def counting(tree: exp.Expression, cap: int) -> exp.Expression:
    """`SELECT count(*) FROM (SELECT 1 FROM (<statement>) LIMIT cap + 1)`: the total, stopped
    just past the row cap."""
    inner = exp.select(exp.Literal.number(1)).from_(
        exp.Subquery(this=tree.copy(), alias=exp.TableAlias(this=exp.to_identifier("_q")))
    ).limit(cap + 1)
    return exp.select(exp.func("count", exp.Star())).from_(
        exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_c")))
    )


def projections(tree: exp.Expression) -> list[exp.Expression]:
    """The select list that names the result (the left-most SELECT of a set operation)."""
    node = tree
    while isinstance(node, exp.Union | exp.Intersect | exp.Except):
        node = node.this
    if isinstance(node, exp.Subquery):
        return projections(node.this)
    if isinstance(node, exp.Select):
        return list(node.expressions)
    returning = tree.args.get("returning")
    return list(returning.expressions) if isinstance(returning, exp.Returning) else []


def to_postgres(tree: exp.Expression) -> str:
    return render(tree, "postgres")


def to_sqlite(tree: exp.Expression, checked: Checked,
              geometry_columns: Mapping[str, Mapping[str, str]]) -> tuple[str, set[str]]:
    """SQLite text of a checked (and possibly paged) tree, and the CTE names it defines
    (for the authorizer)."""
    tree = tree.copy()
    _name_columns(tree)
    tree = tree.transform(_cast_rewrite, copy=False)
    _hoist_values(tree)
    if checked.target is not None:
        _store_geometry(tree, geometry_columns.get(checked.target, {}))
    ctes = {identifier_name(cte.args["alias"].this) for cte in tree.find_all(exp.CTE)
            if cte.args.get("alias") is not None}
    return render(tree, "sqlite"), ctes


def _name_columns(tree: exp.Expression) -> None:
    node = tree
    while isinstance(node, exp.Union | exp.Intersect | exp.Except):
        node = node.this
    targets: list[exp.Expression] = []
    if isinstance(node, exp.Select):
        targets = node.expressions
    elif isinstance(tree.args.get("returning"), exp.Returning):
        targets = tree.args["returning"].expressions
    for projection in list(targets):
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            continue
        if isinstance(projection, exp.Alias):
            projection.set("alias", exp.to_identifier(column_name(projection), quoted=True))
            continue
        projection.replace(exp.alias_(projection.copy(), column_name(projection), quoted=True))


def _cast_rewrite(node: exp.Expression) -> exp.Expression:
    if not isinstance(node, exp.Cast):
        return node
    to = node.args["to"]
    if to.this == T.GEOGRAPHY:
        return exp.Anonymous(this="cloudlet_geography", expressions=[node.this])
    if to.this == T.GEOMETRY:
        params = [p.this for p in to.expressions if isinstance(p, exp.DataTypeParam)]
        kind = next((p.name for p in params if not (isinstance(p, exp.Literal)
                                                     and not p.is_string)), "")
        srid = next((int(p.this) for p in params if isinstance(p, exp.Literal)
                     and not p.is_string), 0)
        args = [node.this] + ([exp.Literal.number(srid), exp.Literal.string(kind)]
                              if params else [])
        return exp.Anonymous(this="cloudlet_geometry", expressions=args)
    if to.this in (T.INT, T.BIGINT, T.SMALLINT):
        return exp.Anonymous(this="cloudlet_integer", expressions=[node.this])
    return node


def _hoist_values(tree: exp.Expression) -> None:
    """`(VALUES …) AS c(a, b)` anywhere → a CTE `cloudlet_values_N(a, b)`, read `AS c`."""
    found = [v for v in tree.find_all(exp.Values)
             if isinstance(v.args.get("alias"), exp.TableAlias) and v.args["alias"].columns]
    for n, values in enumerate(found, 1):
        alias = values.args["alias"]
        name = f"cloudlet_values_{n}"
        cte = exp.CTE(
            this=exp.Values(expressions=[row.copy() for row in values.expressions]),
            alias=exp.TableAlias(this=exp.to_identifier(name),
                                 columns=[c.copy() for c in alias.columns]),
        )
        reference = exp.Table(this=exp.to_identifier(name),
                              alias=exp.TableAlias(this=alias.this.copy()))
        values.replace(reference)
        with_ = tree.args.get("with_")
        if isinstance(with_, exp.With):
            with_.append("expressions", cte)
        else:
            tree.set("with_", exp.With(expressions=[cte]))


STORED_SRID = 4326  # every dataset geometry column is geometry(<type>, 4326)


def _stored(value: exp.Expression, kind: str) -> exp.Expression:
    """A value bound for a `geometry(<kind>, 4326)` column, checked the way PostGIS checks it
    (see `spatial.to_stored`), stored as EWKB."""
    if not kind:
        return exp.Anonymous(this="cloudlet_store", expressions=[value])
    return exp.Anonymous(this="cloudlet_store", expressions=[
        value, exp.Literal.number(STORED_SRID), exp.Literal.string(kind)])


def _store_geometry(tree: exp.Expression, columns: Mapping[str, str]) -> None:
    if not columns:
        return
    if isinstance(tree, exp.Update):
        for assignment in tree.expressions:
            if isinstance(assignment, exp.EQ) and _column(assignment.this) in columns:
                kind = columns[_column(assignment.this)]
                assignment.set("expression", _stored(assignment.expression, kind))
        return
    if not isinstance(tree, exp.Insert) or not isinstance(tree.this, exp.Schema):
        return
    names = [identifier_name(c) if isinstance(c, exp.Identifier) else _column(c)
             for c in tree.this.expressions]
    positions = [i for i, name in enumerate(names) if name in columns]
    source = tree.expression
    rows: list[exp.Expression] = []
    if isinstance(source, exp.Values):
        rows = [row for row in source.expressions if isinstance(row, exp.Tuple)]
        for row in rows:
            for i in positions:
                if i < len(row.expressions):
                    row.expressions[i] = _stored(row.expressions[i], columns[names[i]])
                    row.expressions[i].parent = row
    elif isinstance(source, exp.Select):
        for i in positions:
            if i < len(source.expressions) and not isinstance(source.expressions[i], exp.Star):
                item = source.expressions[i]
                item.replace(_stored(item.copy(), columns[names[i]]))


def _column(node: exp.Expression) -> str:
    if isinstance(node, exp.Column):
        return identifier_name(node.this)
    return identifier_name(node) if isinstance(node, exp.Identifier) else ""
