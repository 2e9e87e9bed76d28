"""Shapefile, GeoPackage, KML, FlatGeobuf through pyogrio (GDAL), when it is installed
(the `geo` extra). Each layer becomes a dataset. Sources must be in WGS 84 lon/lat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import shapely

from cloudlet.server.datasets.columns import (
    Column,
    check_geometry,
    geometry_name,
    parse_timestamp,
    unique_names,
)
from cloudlet.server.datasets.ids import new_amigo_id
from cloudlet.server.datasets.readers.plan import (
    BATCH,
    BadFile,
    Plan,
    Progress,
    Unsupported,
    primary_geometry_name,
)

OGR_SUFFIXES = {".shp": "shapefile", ".gpkg": "geopackage", ".kml": "kml", ".fgb": "flatgeobuf"}
WGS84 = ("EPSG:4326", "OGC:CRS84")


def available() -> bool:
    try:
        import pyogrio  # noqa: F401
    except ImportError:
        return False
    return True


def _kind(dtype: str) -> str:
    if dtype.startswith(("int", "uint")):
        return "integer"
    if dtype.startswith("float"):
        return "real"
    if dtype == "bool":
        return "boolean"
    if dtype.startswith("datetime"):
        return "timestamp"
    return "text"


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "integer":
        return int(value)
    if kind == "real":
        value = float(value)
        return None if value != value else value
    if kind == "boolean":
        return bool(value)
    if kind == "timestamp":
        text = str(value)  # numpy datetime64 prints as ISO 8601
        return None if text == "NaT" else parse_timestamp(text)
    return str(value)


def scan_ogr(path: Path, filename: str, name: str, progress: Progress | None = None
             ) -> list[Plan]:
    if not available():
        raise Unsupported(f"{filename}: reading {path.suffix} files needs pyogrio (install "
                          "cloudlet[geo]); supported here: CSV, TSV, GeoJSON, and zips of them.")
    import pyogrio
    import pyogrio.raw

    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as error:
        raise BadFile(f"{filename} cannot be read: {error}.", file=filename) from None
    plans = []
    for layer in layers:
        info = pyogrio.read_info(path, layer=layer)
        crs = info.get("crs")
        if crs and str(crs) not in WGS84:
            raise BadFile(f"{filename} (layer {layer}) is in {crs}; reproject it to WGS 84 "
                          "(EPSG:4326) before importing.", file=filename)
        fields = [str(f) for f in info["fields"]]
        kinds = [_kind(str(d)) for d in info["dtypes"]]
        names = unique_names(fields, {"amigo_id"})
        geometry_column = primary_geometry_name(set(names))
        total = int(info.get("features") or 0)
        geometry_types: set[str] = set()
        count = 0
        for start in range(0, max(total, 1), BATCH):
            _meta, _fids, geoms, _data = pyogrio.raw.read(
                path, layer=layer, skip_features=start, max_features=BATCH, read_geometry=True)
            for k, wkb in enumerate(geoms if geoms is not None else []):
                if wkb is None:
                    continue
                try:
                    geom = check_geometry(shapely.from_wkb(wkb))
                except (ValueError, shapely.errors.GEOSException) as error:
                    raise BadFile(f"{filename}, feature {start + k + 1}: {error}.",
                                  file=filename, feature=start + k + 1) from None
                if not geom.is_empty:
                    geometry_types.add(geometry_name(geom))
            count += len(geoms) if geoms is not None else len(_data[0]) if _data else 0
            if progress:
                progress(count)
        geometry_type = geometry_types.pop() if len(geometry_types) == 1 else "geometry"
        columns = [Column(n, k) for n, k in zip(names, kinds, strict=True)]
        columns.append(Column(geometry_column, "geometry", geometry_type))

        def read(progress: Progress | None, layer: str = layer, names: list[str] = names,
                 kinds: list[str] = kinds, geometry_column: str = geometry_column,
                 total: int = count) -> Iterator[list[dict[str, Any]]]:
            for start in range(0, total, BATCH):
                _meta, _fids, geoms, data = pyogrio.raw.read(
                    path, layer=layer, skip_features=start, max_features=BATCH)
                batch = []
                size = len(geoms) if geoms is not None else len(data[0]) if data else 0
                for k in range(size):
                    row: dict[str, Any] = {"amigo_id": new_amigo_id()}
                    for j, n in enumerate(names):
                        row[n] = _value(kinds[j], data[j][k])
                    wkb = geoms[k] if geoms is not None else None
                    geom = None if wkb is None else shapely.force_2d(shapely.from_wkb(wkb))
                    row[geometry_column] = None if geom is None or geom.is_empty else geom
                    batch.append(row)
                if progress:
                    progress(start + len(batch))
                yield batch

        label = name if len(layers) == 1 else f"{name} {layer}"
        plans.append(Plan(name=label, filename=filename, format=OGR_SUFFIXES.get(
            path.suffix.lower(), "ogr"), columns=columns, geometry_column=geometry_column,
            count=count, read=read))
    return plans
