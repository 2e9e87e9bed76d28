"""PostGIS's vocabulary on SQLite, backed by shapely (GEOS, as PostGIS) and geographiclib
(Karney's geodesics on WGS84, as PostGIS geography).

Semantics follow PostGIS 3: on geometry, measures are planar in the units of the
coordinates (degrees for SRID 4326) and mixed SRIDs are an error; on geography (a `::geography`
cast), distances, lengths and areas are on the WGS84 spheroid in meters, and `ST_DistanceSphere`
uses the mean-radius sphere. Two known approximations, both within a fraction of a percent of
PostGIS: the geography distance between non-point shapes is measured between their planar
nearest points, and geography buffers are built in a local azimuthal-equidistant frame (PostGIS
picks a UTM or Lambert zone).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from typing import Any

import numpy
import shapely
import shapely.ops
from geographiclib.geodesic import Geodesic
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from cloudlet.server.sql.geometry import (
    Geo,
    GeometryError,
    decode,
    from_geojson,
    to_geojson,
    to_wkt,
)

SPHERE_RADIUS = 6371008.7714  # PostGIS: mean radius of WGS84, (2a + b) / 3
GEOD = Geodesic.WGS84
MAX_QUAD_SEGS = 1000


def _need(value: Any, name: str) -> Geo:
    geo = decode(value)
    if geo is None:
        raise GeometryError(f"{name}: the argument is NULL")
    return geo


def _pair(a: Any, b: Any, name: str) -> tuple[Geo, Geo] | None:
    """Two arguments of one operation; geography wins, as PostGIS's implicit cast does."""
    if a is None or b is None:
        return None
    ga, gb = _need(a, name), _need(b, name)
    if ga.geography or gb.geography:
        return ga.as_geography(), gb.as_geography()
    if ga.srid != gb.srid:
        raise GeometryError(f"{name}: Operation on mixed SRID geometries "
                            f"({ga.shape.geom_type}, {ga.srid}) != "
                            f"({gb.shape.geom_type}, {gb.srid})")
    return ga, gb


# --- constructors and conversions ----------------------------------------------------------

def st_makepoint(x: Any, y: Any, z: Any = None, m: Any = None) -> bytes | None:
    if x is None or y is None:
        return None
    coords = [float(x), float(y)] + ([float(z)] if z is not None else [])
    return Geo(Point(coords)).encode()


def st_point(x: Any, y: Any, srid: Any = None) -> bytes | None:
    if x is None or y is None:
        return None
    return Geo(Point(float(x), float(y)), int(srid or 0)).encode()


def st_setsrid(g: Any, srid: Any) -> bytes | None:
    geo = decode(g)
    if geo is None or srid is None:
        return None
    return Geo(geo.shape, int(srid), geo.geography).encode()


def st_srid(g: Any) -> int | None:
    geo = decode(g)
    return None if geo is None else geo.srid


def st_geomfromtext(text: Any, srid: Any = None) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise GeometryError("ST_GeomFromText needs WKT text")
    geo = decode(text)
    assert geo is not None
    return Geo(geo.shape, int(srid) if srid is not None else geo.srid).encode()


def st_geomfromgeojson(text: Any) -> bytes | None:
    if text is None:
        return None
    return from_geojson(str(text)).encode()


def st_geogfromtext(text: Any) -> bytes | None:
    geo = decode(text)
    return None if geo is None else geo.as_geography().encode()


def st_astext(g: Any, decimals: Any = 15) -> str | None:
    geo = decode(g)
    return None if geo is None else to_wkt(geo.shape, int(decimals))


def st_asewkt(g: Any, decimals: Any = 15) -> str | None:
    geo = decode(g)
    if geo is None:
        return None
    text = to_wkt(geo.shape, int(decimals))
    return f"SRID={geo.srid};{text}" if geo.srid else text


def st_asgeojson(g: Any, decimals: Any = 9, options: Any = None) -> str | None:
    geo = decode(g)
    return None if geo is None else to_geojson(geo.shape, int(decimals))


def st_geometrytype(g: Any) -> str | None:
    geo = decode(g)
    return None if geo is None else "ST_" + geo.shape.geom_type


def to_geometry(value: Any, srid: Any = 0, kind: Any = "") -> bytes | None:
    """`::geometry` and `::geometry(Type, SRID)`: from any accepted form, or from geography."""
    geo = decode(value)
    if geo is None:
        return None
    geo = geo.as_geometry()
    if srid and geo.srid != int(srid):
        if geo.srid == 0:
            raise GeometryError(f"Geometry SRID (0) does not match column SRID ({srid})")
        raise GeometryError(f"Geometry SRID ({geo.srid}) does not match column SRID ({srid})")
    if kind and kind.lower() != "geometry" and geo.shape.geom_type.lower() != kind.lower():
        raise GeometryError(f"Geometry type ({geo.shape.geom_type}) does not match column "
                            f"type ({kind})")
    return geo.encode()


def to_geography(value: Any) -> bytes | None:
    geo = decode(value)
    return None if geo is None else geo.as_geography().encode()


def to_stored(value: Any, srid: Any = 0, kind: Any = "") -> Any:
    """What a geometry column gets on INSERT/UPDATE: canonical EWKB, never a geography tag.
    With the column's SRID and type (`geometry(<kind>, <srid>)`), PostGIS's assignment
    rules: an unknown SRID (0) takes the column's, another SRID or type is refused, and a
    geography is not a geometry."""
    geo = decode(value)
    if geo is None:
        return None
    if not srid:
        return geo.as_geometry().encode()
    if geo.geography:
        raise GeometryError("column is of type geometry but expression is of type geography")
    if geo.shape.has_z:  # dataset columns are 2D
        raise GeometryError("Geometry has Z dimension but column does not")
    if geo.srid == 0:
        geo = Geo(geo.shape, int(srid))
    return to_geometry(geo.encode(), srid, kind)


# --- accessors and measures ----------------------------------------------------------------

def _point(g: Any, name: str) -> Point | None:
    geo = decode(g)
    if geo is None:
        return None
    if geo.shape.geom_type != "Point":
        raise GeometryError(f"Argument to {name}() must have type POINT")
    return geo.shape  # type: ignore[return-value]


def st_x(g: Any) -> float | None:
    p = _point(g, "ST_X")
    return None if p is None or p.is_empty else float(p.x)


def st_y(g: Any) -> float | None:
    p = _point(g, "ST_Y")
    return None if p is None or p.is_empty else float(p.y)


def _geodesic(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.Inverse(lat1, lon1, lat2, lon2, Geodesic.DISTANCE)["s12"])


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * SPHERE_RADIUS * math.asin(min(1.0, math.sqrt(h)))


def _surface_distance(a: BaseGeometry, b: BaseGeometry,
                      metric: Callable[[float, float, float, float], float]) -> float | None:
    if a.is_empty or b.is_empty:
        return None
    if a.intersects(b):
        return 0.0
    pa, pb = shapely.ops.nearest_points(a, b)
    return metric(pa.x, pa.y, pb.x, pb.y)


def st_distance(a: Any, b: Any, use_spheroid: Any = True) -> float | None:
    pair = _pair(a, b, "ST_Distance")
    if pair is None:
        return None
    ga, gb = pair
    if ga.geography:
        return _surface_distance(ga.shape, gb.shape,
                                 _geodesic if use_spheroid else _haversine)
    if ga.shape.is_empty or gb.shape.is_empty:
        return None
    return float(ga.shape.distance(gb.shape))


def st_distancesphere(a: Any, b: Any) -> float | None:
    pair = _pair(a, b, "ST_DistanceSphere")
    return None if pair is None else _surface_distance(pair[0].shape, pair[1].shape, _haversine)


def st_dwithin(a: Any, b: Any, distance: Any, use_spheroid: Any = True) -> bool | None:
    if distance is None:
        return None
    if float(distance) < 0:
        raise GeometryError("Tolerance cannot be less than zero")
    measured = st_distance(a, b, use_spheroid)
    return None if measured is None else measured <= float(distance)


def _ring_area(coords: list[tuple[float, ...]]) -> float:
    polygon = GEOD.Polygon()
    for xy in coords[:-1]:
        polygon.AddPoint(xy[1], xy[0])
    return abs(float(polygon.Compute(False, True)[2]))


def _geodesic_area(shape: BaseGeometry) -> float:
    if shape.geom_type == "Polygon":
        area = _ring_area(list(shape.exterior.coords))  # type: ignore[attr-defined]
        return area - sum(_ring_area(list(r.coords)) for r in shape.interiors)  # type: ignore[attr-defined]
    if hasattr(shape, "geoms"):
        return sum(_geodesic_area(g) for g in shape.geoms)  # type: ignore[attr-defined]
    return 0.0


def _geodesic_length(shape: BaseGeometry) -> float:
    if shape.geom_type in ("LineString", "LinearRing"):
        xy = list(shape.coords)
        return sum(_geodesic(*xy[i][:2], *xy[i + 1][:2]) for i in range(len(xy) - 1))
    if shape.geom_type == "MultiLineString" or shape.geom_type == "GeometryCollection":
        return sum(_geodesic_length(g) for g in shape.geoms)  # type: ignore[attr-defined]
    return 0.0


def st_area(g: Any, use_spheroid: Any = True) -> float | None:
    geo = decode(g)
    if geo is None:
        return None
    if geo.geography:
        return _geodesic_area(geo.shape)
    return float(geo.shape.area)


def st_length(g: Any, use_spheroid: Any = True) -> float | None:
    geo = decode(g)
    if geo is None:
        return None
    if geo.geography:
        return _geodesic_length(geo.shape)
    if geo.shape.geom_type in ("Polygon", "MultiPolygon"):
        return 0.0  # PostGIS: ST_Length of an areal geometry is 0 (use ST_Perimeter)
    return float(geo.shape.length)


# --- predicates ------------------------------------------------------------------------------

def _predicate(name: str, test: Callable[[BaseGeometry, BaseGeometry], bool]
               ) -> Callable[[Any, Any], bool | None]:
    def predicate(a: Any, b: Any) -> bool | None:
        pair = _pair(a, b, name)
        return None if pair is None else bool(test(pair[0].shape, pair[1].shape))

    return predicate


st_intersects = _predicate("ST_Intersects", lambda a, b: a.intersects(b))
st_within = _predicate("ST_Within", lambda a, b: a.within(b))
st_contains = _predicate("ST_Contains", lambda a, b: a.contains(b))


# --- processing ----------------------------------------------------------------------------

_CAPS = {"round": "round", "flat": "flat", "butt": "flat", "square": "square"}
_JOINS = {"round": "round", "mitre": "mitre", "miter": "mitre", "bevel": "bevel"}


def _buffer_options(param: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"quad_segs": 8}
    if param is None:
        return options
    if isinstance(param, int | float):
        options["quad_segs"] = int(param)
    else:
        for item in str(param).split():
            key, _, value = item.partition("=")
            key = key.lower()
            if key == "quad_segs":
                options["quad_segs"] = int(value)
            elif key == "endcap" and value.lower() in _CAPS:
                options["cap_style"] = _CAPS[value.lower()]
            elif key == "join" and value.lower() in _JOINS:
                options["join_style"] = _JOINS[value.lower()]
            elif key in ("mitre_limit", "miter_limit"):
                options["mitre_limit"] = float(value)
            else:
                raise GeometryError(f"ST_Buffer: unknown buffer parameter {item!r}")
    if not 1 <= options["quad_segs"] <= MAX_QUAD_SEGS:
        raise GeometryError(f"ST_Buffer: quad_segs must be between 1 and {MAX_QUAD_SEGS}")
    return options


def _local_buffer(shape: BaseGeometry, meters: float, options: dict[str, Any]) -> BaseGeometry:
    """Buffer a lon/lat shape by meters in an azimuthal-equidistant frame at its centroid."""
    center = shape.centroid
    lon0, lat0 = center.x, center.y

    def forward(lon: float, lat: float) -> tuple[float, float]:
        line = GEOD.Inverse(lat0, lon0, lat, lon)
        az = math.radians(line["azi1"])
        return line["s12"] * math.sin(az), line["s12"] * math.cos(az)

    def backward(x: float, y: float) -> tuple[float, float]:
        spot = GEOD.Direct(lat0, lon0, math.degrees(math.atan2(x, y)), math.hypot(x, y))
        return spot["lon2"], spot["lat2"]

    local = shapely.transform(shape, lambda xy: _map(forward, xy))
    grown = local.buffer(meters, **options)
    return shapely.transform(grown, lambda xy: _map(backward, xy))


def _map(fn: Callable[[float, float], tuple[float, float]], xy: Any) -> Any:
    return numpy.array([fn(float(x), float(y)) for x, y in xy], dtype=float).reshape(-1, 2)


def st_buffer(g: Any, distance: Any, param: Any = None) -> bytes | None:
    geo = decode(g)
    if geo is None or distance is None:
        return None
    d = float(distance)
    if math.isnan(d) or math.isinf(d):
        raise GeometryError("ST_Buffer: the distance must be a finite number")
    options = _buffer_options(param)
    if geo.geography:
        return Geo(_local_buffer(geo.shape, d, options), geo.srid, True).encode()
    return Geo(geo.shape.buffer(d, **options), geo.srid).encode()


def st_envelope(g: Any) -> bytes | None:
    geo = decode(g)
    if geo is None:
        return None
    if geo.shape.is_empty:
        return geo.encode()
    xmin, ymin, xmax, ymax = geo.shape.bounds
    if xmin == xmax and ymin == ymax:
        shape: BaseGeometry = Point(xmin, ymin)
    elif xmin == xmax or ymin == ymax:
        shape = LineString([(xmin, ymin), (xmax, ymax)])
    else:
        shape = shapely.Polygon([(xmin, ymin), (xmin, ymax), (xmax, ymax), (xmax, ymin),
                                 (xmin, ymin)])
    return Geo(shape, geo.srid).encode()


def st_centroid(g: Any) -> bytes | None:
    geo = decode(g)
    return None if geo is None else Geo(geo.shape.centroid, geo.srid, geo.geography).encode()


# --- casts PostgreSQL does differently from SQLite --------------------------------------------

def to_integer(value: Any) -> int | None:
    """`::int`: PostgreSQL rounds half to even (SQLite's CAST truncates) and refuses text that
    is not a whole number (SQLite's CAST reads it as 0)."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise GeometryError(f"invalid input syntax for type integer: {value!r}") from None
    raise GeometryError(f"cannot cast {type(value).__name__} to integer")


# --- registration ----------------------------------------------------------------------------

# SQL name → (implementation, the argument counts PostGIS accepts)
FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, ...]]] = {
    "st_makepoint": (st_makepoint, (2, 3, 4)),
    "st_point": (st_point, (2, 3)),
    "st_setsrid": (st_setsrid, (2,)),
    "st_srid": (st_srid, (1,)),
    "st_geomfromtext": (st_geomfromtext, (1, 2)),
    "st_geometryfromtext": (st_geomfromtext, (1, 2)),
    "st_geomfromewkt": (st_geomfromtext, (1,)),
    "st_geomfromgeojson": (st_geomfromgeojson, (1,)),
    "st_geogfromtext": (st_geogfromtext, (1,)),
    "st_astext": (st_astext, (1, 2)),
    "st_asewkt": (st_asewkt, (1, 2)),
    "st_asgeojson": (st_asgeojson, (1, 2, 3)),
    "st_geometrytype": (st_geometrytype, (1,)),
    "st_x": (st_x, (1,)),
    "st_y": (st_y, (1,)),
    "st_distance": (st_distance, (2, 3)),
    "st_distancesphere": (st_distancesphere, (2,)),
    "st_dwithin": (st_dwithin, (3, 4)),
    "st_area": (st_area, (1, 2)),
    "st_length": (st_length, (1, 2)),
    "st_intersects": (st_intersects, (2,)),
    "st_within": (st_within, (2,)),
    "st_contains": (st_contains, (2,)),
    "st_buffer": (st_buffer, (2, 3)),
    "st_envelope": (st_envelope, (1,)),
    "st_centroid": (st_centroid, (1,)),
}
# what the transpiler writes for casts and stores; users cannot name these (the wall refuses)
INTERNAL: dict[str, tuple[Callable[..., Any], tuple[int, ...]]] = {
    "cloudlet_geometry": (to_geometry, (1, 3)),
    "cloudlet_geography": (to_geography, (1,)),
    "cloudlet_store": (to_stored, (1, 3)),
    "cloudlet_integer": (to_integer, (1,)),
}
PREDICATES = {"st_intersects", "st_within", "st_contains", "st_dwithin"}
GEOMETRY_RESULTS = {"st_makepoint", "st_point", "st_setsrid", "st_geomfromtext",
                    "st_geometryfromtext", "st_geomfromewkt", "st_geomfromgeojson",
                    "st_geogfromtext", "st_buffer", "st_envelope", "st_centroid"}


class FunctionErrors:
    """Keeps the message of the last failing function: sqlite3 reports only that a
    user-defined function raised, so the runner asks here for the PostGIS-style reason."""

    def __init__(self) -> None:
        self.last: str | None = None

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            try:
                return fn(*args)
            except GeometryError as exc:
                self.last = str(exc)
                raise
            except Exception as exc:  # shapely/GEOS errors, bad argument types
                self.last = f"invalid argument: {exc}"
                raise

        return call


def register(conn: sqlite3.Connection, errors: FunctionErrors) -> None:
    for table in (FUNCTIONS, INTERNAL):
        for name, (fn, arities) in table.items():
            for n in arities:
                conn.create_function(name, n, errors.wrap(fn), deterministic=True)
