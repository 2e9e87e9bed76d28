"""Which reader a file needs, and zips: limits first, then each dataset file inside.

A zip may hold several dataset files (a Shapefile is its .shp with the .dbf/.shx/.prj
beside it); each becomes a dataset, all or none. It is refused before anything is extracted
if it has too many entries, promises too many bytes, or compresses better than the allowed
ratio (a zip bomb); extraction counts real bytes too, since a zip's sizes can lie.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cloudlet.server.core.errors import TooLarge
from cloudlet.server.datasets.readers import ogr_reader
from cloudlet.server.datasets.readers.csv_reader import scan_csv
from cloudlet.server.datasets.readers.geojson_reader import scan_geojson
from cloudlet.server.datasets.readers.plan import BadFile, Plan, Progress, Unsupported

CSV_SUFFIXES = (".csv", ".tsv")
GEOJSON_SUFFIXES = (".geojson", ".json")
SNIFF_BYTES = 4096
SUFFIX_OF = {"csv": ".csv", "geojson": ".geojson", "zip": ".zip", "geopackage": ".gpkg",
             "kml": ".kml", "flatgeobuf": ".fgb"}
SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".qmd")


@dataclass(frozen=True)
class ZipLimits:
    max_files: int
    max_total: int  # uncompressed bytes
    max_ratio: float  # uncompressed / compressed, per entry


def supported() -> str:
    extra = ", Shapefile (zipped), GeoPackage, KML, FlatGeobuf" if ogr_reader.available() else ""
    return f"CSV, TSV, GeoJSON{extra}, or a zip of those"


def format_of(filename: str, head: bytes | None = None) -> str:
    """The reader a file needs, by its suffix. A name without a suffix (AmigoCloud's chunked
    uploads are all called `datafile`) is told by its first bytes, `head`."""
    suffix = PurePosixPath(filename.lower()).suffix
    if not suffix and head is not None:
        return _sniff(filename, head)
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in GEOJSON_SUFFIXES:
        return "geojson"
    if suffix == ".zip":
        return "zip"
    if suffix in ogr_reader.OGR_SUFFIXES:
        if suffix == ".shp":
            raise Unsupported(f"{filename}: upload a Shapefile as a zip with its .dbf, .shx "
                              "and .prj files.")
        return _ogr(filename, ogr_reader.OGR_SUFFIXES[suffix])
    raise Unsupported(f"{filename}: unsupported file type; supported: {supported()}.")


def check_filename(filename: str) -> None:
    """Refuse early (before the bytes arrive) a name no reader takes; a name without a
    suffix passes, its format is told from its content later."""
    if PurePosixPath(filename.lower()).suffix:
        format_of(filename)


def _ogr(filename: str, kind: str) -> str:
    if not ogr_reader.available():
        raise Unsupported(f"{filename}: {kind} files need pyogrio, which this server does not "
                          f"have; supported: {supported()}.")
    return kind


def _sniff(filename: str, head: bytes) -> str:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return _ogr(filename, "geopackage")
    if head.startswith(b"fgb\x03"):
        return _ogr(filename, "flatgeobuf")
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith((b"{", b"[")):
        return "geojson"
    if text.startswith(b"<"):
        if b"<kml" in head:
            return _ogr(filename, "kml")
    elif text and b"\x00" not in head:
        return "csv"  # the reader names any line that is not UTF-8
    raise Unsupported(f"{filename}: can't tell the file's format from its content; name it "
                      f"with a suffix (.csv, .geojson, .zip…); supported: {supported()}.")


def head_of(path: Path) -> bytes:
    """The first bytes of a file, enough to tell its format."""
    with path.open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def stem(filename: str) -> str:
    return PurePosixPath(filename).stem or "dataset"


def scan(path: Path, filename: str, name: str | None, limits: ZipLimits, workdir: Path,
         progress: Progress | None = None) -> list[Plan]:
    """Check a file and plan its datasets (one, or one per file or layer in a zip)."""
    kind = format_of(filename, head_of(path))
    label = name or stem(filename)
    if kind == "csv":
        return [scan_csv(path, filename, label, progress)]
    if kind == "geojson":
        return [scan_geojson(path, filename, label, progress)]
    if kind == "zip":
        return _scan_zip(path, filename, name, limits, workdir, progress)
    named = workdir / f"input{SUFFIX_OF.get(kind, PurePosixPath(filename.lower()).suffix)}"
    if not named.exists():  # GDAL goes by the file's suffix
        os.link(path, named)
    return ogr_reader.scan_ogr(named, filename, label, progress)


def _members(archive: zipfile.ZipFile, filename: str, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise TooLarge(f"{filename} has {len(infos)} entries; the limit is {limits.max_files}.")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 20 and ratio > limits.max_ratio:
            raise TooLarge(f"{filename}: {info.filename} compresses {ratio:.0f}:1, more than "
                           f"the {limits.max_ratio:g}:1 allowed; refused as a possible zip "
                           "bomb.")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total:
        raise TooLarge(f"{filename} would unpack to {total} bytes; the limit is "
                       f"{limits.max_total}.")
    kept = []
    for info in infos:
        base = PurePosixPath(info.filename)
        if info.is_dir() or "__MACOSX" in base.parts or base.name.startswith("."):
            continue
        if info.flag_bits & 0x1:
            raise BadFile(f"{filename}: {info.filename} is encrypted.", file=info.filename)
        kept.append(info)
    return kept


def _scan_zip(path: Path, filename: str, name: str | None, limits: ZipLimits, workdir: Path,
              progress: Progress | None) -> list[Plan]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise BadFile(f"{filename} is not a valid zip: {error}.", file=filename) from None
    with archive:
        members = _members(archive, filename, limits)
        datasets = [m for m in members if _dataset_file(m.filename)]
        if not datasets:
            raise Unsupported(f"{filename} holds no dataset file; supported: {supported()}.")
        folder = workdir / "unzipped"
        folder.mkdir(parents=True, exist_ok=True)
        written = 0
        places: dict[str, Path] = {}
        for n, info in enumerate(members):
            inner = PurePosixPath(info.filename)
            if inner.suffix.lower() == ".zip":
                raise Unsupported(f"{filename}: {info.filename} is a zip inside the zip; "
                                  "upload it on its own.")
            # flat, safe names: nothing is ever written outside the work folder
            target = folder / f"{n}" / inner.name
            target.parent.mkdir()
            try:
                with archive.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > limits.max_total:
                            raise TooLarge(f"{filename} unpacks to more than "
                                           f"{limits.max_total} bytes.")
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise BadFile(f"{filename}: {info.filename} is damaged: {error}.",
                              file=info.filename) from None
            places[info.filename] = target
        _gather_shapefiles(members, places)
    plans: list[Plan] = []
    single = len(datasets) == 1
    for info in datasets:
        inner = PurePosixPath(info.filename)
        label = name if single and name else stem(inner.name)
        plans.extend(scan(places[info.filename], inner.name, label, limits, workdir, progress)
                     if inner.suffix.lower() != ".shp" else
                     ogr_reader.scan_ogr(places[info.filename], inner.name, label, progress))
    return plans


def _dataset_file(name: str) -> bool:
    suffix = PurePosixPath(name.lower()).suffix
    return suffix in CSV_SUFFIXES or suffix in GEOJSON_SUFFIXES or suffix in \
        ogr_reader.OGR_SUFFIXES


def _gather_shapefiles(members: list[zipfile.ZipInfo], places: dict[str, Path]) -> None:
    """Put each .shp's sidecars next to it, as GDAL expects."""
    for info in members:
        if PurePosixPath(info.filename.lower()).suffix != ".shp":
            continue
        base = info.filename[: -len(".shp")]
        shp = places[info.filename]
        for other in members:
            o = other.filename
            if o != info.filename and o.lower().startswith(base.lower()) and \
                    PurePosixPath(o.lower()).suffix in SIDECARS:
                shutil.copy(places[o], shp.with_suffix(PurePosixPath(o).suffix.lower()))
