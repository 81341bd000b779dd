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
