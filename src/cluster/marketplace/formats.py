"""What an uploaded file is, whether it is valid, and what its listing says about it (rows, size, schema) —
read in one streaming pass from the spooled upload, never whole in memory.

Validated: JSONL (every line JSON), CSV (one header, every row as wide), Parquet (read with pyarrow, row group by
row group: schema, rows, and every page decoded), zip and tar archives
(readable; image members counted, the preview's first images get 128 px thumbnails). Anything else is refused.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cluster.errors import InvalidRequest

FORMATS = ("jsonl", "csv", "parquet", "zip", "tar")
CATEGORIES = ("nlp", "vision", "audio", "medical", "financial", "social", "code", "other")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".zip": "zip", ".tar": "tar"}
_IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")
_SCHEMA_SAMPLE = 200


class InvalidDataset(InvalidRequest):
    code = "invalid_dataset"


def detect(filename: str, declared: str | None) -> str:
    if declared:
        if declared not in FORMATS:
            raise InvalidDataset(f"format must be one of {', '.join(FORMATS)}", param="format")
        return declared
    for suffix, name in _SUFFIXES.items():
        if filename.lower().endswith(suffix) or (filename.lower().endswith(suffix + ".gz") and name == "tar"):
            return name
    raise InvalidDataset(
        f"cannot tell the format of {filename!r}: give `format` ({', '.join(FORMATS)})", param="format"
    )


def inspect(path: Path, fmt: str, preview_rows: int) -> tuple[dict[str, Any], list[Any]]:
    """(stats, preview) of a valid file; ``InvalidDataset`` (400) saying where it is not valid."""
    size = path.stat().st_size
    inspector = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet, "zip": _zip, "tar": _tar}[fmt]
    stats, preview = inspector(path, preview_rows)
    return {"size": size, "format": fmt, **stats}, preview


def _jsonl(path: Path, preview_rows: int) -> tuple[dict[str, Any], list[Any]]:
    rows, preview = 0, []
    schema: dict[str, str] = {}
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise InvalidDataset(f"line {number} is not valid JSON: {error}") from None
            rows += 1
            if rows <= preview_rows:
                preview.append(record)
            if rows <= _SCHEMA_SAMPLE and isinstance(record, dict):
                for key, value in record.items():
                    schema.setdefault(key, type(value).__name__)
    if rows == 0:
        raise InvalidDataset("the JSONL file has no records")
    return {"rows": rows, "schema": schema}, preview


def _csv(path: Path, preview_rows: int) -> tuple[dict[str, Any], list[Any]]:
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidDataset("the CSV file is empty") from None
        except (csv.Error, UnicodeDecodeError) as error:
            raise InvalidDataset(f"the CSV header cannot be read: {error}") from None
        rows, preview = 0, []
        try:
            for row in reader:
                if not row:
                    continue
                rows += 1
                if len(row) != len(header):
                    raise InvalidDataset(f"CSV row {rows + 1} has {len(row)} fields, the header has {len(header)}")
                if rows <= preview_rows:
                    preview.append(dict(zip(header, row, strict=True)))
        except (csv.Error, UnicodeDecodeError) as error:
            raise InvalidDataset(f"CSV row {rows + 1} cannot be read: {error}") from None
    return {"rows": rows, "schema": {column: "string" for column in header}}, preview


def _parquet(path: Path, preview_rows: int) -> tuple[dict[str, Any], list[Any]]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    if size < 12 or head != b"PAR1" or tail != b"PAR1":
        raise InvalidDataset("not a Parquet file: it must start and end with PAR1")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        metadata = parquet.metadata
        schema = {field.name: str(field.type) for field in parquet.schema_arrow}
        # Every row group's pages are decoded (one group in memory at a time): corruption anywhere is found.
        preview: list[Any] = []
        for group in range(metadata.num_row_groups):
            table = parquet.read_row_group(group)
            if len(preview) < preview_rows:
                preview.extend(table.slice(0, preview_rows - len(preview)).to_pylist())
    except (pa.ArrowException, OSError, ValueError) as error:
        raise InvalidDataset(f"corrupt Parquet file: {error}") from None
    return {"rows": metadata.num_rows, "row_groups": metadata.num_row_groups, "schema": schema}, _jsonable(preview)


def _jsonable(rows: list[Any]) -> list[Any]:
    """Preview rows as JSON (dates, decimals and bytes as strings)."""
    converted: list[Any] = json.loads(json.dumps(rows, default=str))
    return converted


def _zip(path: Path, preview_rows: int) -> tuple[dict[str, Any], list[Any]]:
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            if bad is not None:
                raise InvalidDataset(f"zip member {bad!r} is corrupt")
            preview = _previews(names, archive.read, preview_rows)
    except (zipfile.BadZipFile, OSError) as error:
        raise InvalidDataset(f"not a readable zip archive: {error}") from None
    return _archive_stats(names), preview


def _tar(path: Path, preview_rows: int) -> tuple[dict[str, Any], list[Any]]:
    try:
        with tarfile.open(path) as archive:
            members = {member.name: member for member in archive if member.isfile()}

            def read(name: str) -> bytes:
                handle = archive.extractfile(members[name])
                return handle.read() if handle else b""

            preview = _previews(list(members), read, preview_rows)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise InvalidDataset(f"not a readable tar archive: {error}") from None
    return _archive_stats(list(members)), preview


def _previews(names: list[str], read: Callable[[str], bytes], count: int) -> list[dict[str, Any]]:
    """The first ``count`` members: image members with a 128 px JPEG thumbnail (a data URI), others by name."""
    previews = []
    for name in names[:count]:
        entry: dict[str, Any] = {"name": name}
        if name.lower().endswith(_IMAGES):
            entry["thumbnail"] = _thumbnail(read(name))
        previews.append(entry)
    return previews


def _thumbnail(data: bytes) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((128, 128))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=80)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None  # an unreadable image is still a file in the archive; it just has no thumbnail
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def _archive_stats(names: list[str]) -> dict[str, Any]:
    if not names:
        raise InvalidDataset("the archive holds no files")
    images = sum(1 for name in names if name.lower().endswith(_IMAGES))
    return {"files": len(names), "images": images}
