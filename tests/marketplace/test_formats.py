"""Format checks and listing stats, file by file."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from cluster.marketplace.formats import InvalidDataset, detect, inspect


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(out, format="PNG")
    return out.getvalue()


def test_image_archives_count_images_and_preview_thumbnails(tmp_path: Path) -> None:
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("cats/a.png", png("red"))
        handle.writestr("cats/b.png", png("blue"))
        handle.writestr("labels.csv", "file,label\na.png,cat\n")
        handle.writestr("broken.jpg", b"not really a jpeg")
    stats, preview = inspect(archive, detect("images.zip", None), 5)
    assert (stats["files"], stats["images"]) == (4, 3)
    assert preview[0]["name"] == "cats/a.png" and preview[0]["thumbnail"].startswith("data:image/jpeg;base64,")
    assert "thumbnail" not in preview[2] and preview[3]["thumbnail"] is None

    tarball = tmp_path / "images.tar"
    with tarfile.open(tarball, "w") as handle:
        data = png("green")
        info = tarfile.TarInfo("g.png")
        info.size = len(data)
        handle.addfile(info, io.BytesIO(data))
    stats, preview = inspect(tarball, "tar", 5)
    assert stats["images"] == 1 and preview[0]["thumbnail"]


def test_csv_stats_and_refusals(tmp_path: Path) -> None:
    good = tmp_path / "a.csv"
    good.write_text("id,text\n1,hello\n2,world\n")
    stats, preview = inspect(good, "csv", 1)
    assert stats["rows"] == 2 and stats["schema"] == {"id": "string", "text": "string"}
    assert preview == [{"id": "1", "text": "hello"}]
    with pytest.raises(InvalidDataset, match="format"):
        detect("data.bin", None)
    for name, content in (("empty.jsonl", b"\n\n"), ("bad.zip", b"PK\x03\x04 nope"), ("bad.tar", b"x" * 10)):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InvalidDataset):
            inspect(path, detect(name, None), 5)


def test_parquet_is_read_through_and_corruption_is_caught(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": list(range(10_000)), "text": [f"row {i}" for i in range(10_000)]})
    good = tmp_path / "a.parquet"
    pq.write_table(table, good, row_group_size=2_500)
    stats, preview = inspect(good, detect("a.parquet", None), 3)
    assert (stats["rows"], stats["row_groups"]) == (10_000, 4)
    assert stats["schema"] == {"id": "int64", "text": "string"} and preview[2] == {"id": 2, "text": "row 2"}

    data = bytearray(good.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64  # a damaged data page, footer intact
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(bytes(data))
    with pytest.raises(InvalidDataset, match="corrupt Parquet"):
        inspect(broken, "parquet", 3)
