"""Paths longer than a database index entry may be (PostgreSQL's btree limit is about 2.7 KB; Linux allows 4 KB).

A real directory tree, deep enough for a 3.9 KB path, with names that don't compress, next to ordinary files
checked in the same batch. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.discovery import DB_PATH_MAX_BYTES, path_from_db, path_from_row, path_to_db
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.results import mark_good
from pixelprobe_tui.services.scan import ScanService

SETTINGS = default_settings(workers=2)


def _deep_dir(base: Path, total: int, seed: int) -> Path:
    """A directory whose path is about *total* bytes, made of random (incompressible) 200-byte names."""
    rnd = random.Random(seed)
    path = os.fsencode(base)
    while len(path) < total - 260:
        name = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789_-") for _ in range(200))
        path += b"/" + name.encode()
    os.makedirs(path)
    return Path(os.fsdecode(path))


@pytest.fixture
def tree(tmp_path, media_factory) -> dict[str, list[Path]]:
    png = media_factory("png", size=(48, 32))
    root = tmp_path / "lib"
    deep = _deep_dir(root / "deep", 3900, seed=1)
    long_files = [deep / "a.png", deep / ("é" * 20 + ".png")]
    odd = Path(os.fsdecode(os.fsencode(_deep_dir(root / "odd", 3000, seed=2)) + b"/caf\xe9.png"))
    long_files.append(odd)
    short = [root / f"s{i:03d}.png" for i in range(40)]
    for p in (*long_files, *short):
        shutil.copyfile(png, p)
    assert all(len(os.fsencode(p)) > 2800 for p in long_files)
    return {"root": [root], "long": long_files, "short": short}


def test_the_database_form_of_a_long_path_fits_an_index_and_is_unique():
    a = "/x/" + "a" * 5000
    b = "/x/" + "a" * 4999 + "b"
    key_a, key_b = path_to_db(a), path_to_db(b)
    assert key_a != key_b and len(key_a.encode()) <= DB_PATH_MAX_BYTES
    assert path_to_db(a) == key_a  # stable
    assert path_from_row(key_a, a) == a and path_from_row("/x/short", None) == "/x/short"
    bad = os.fsdecode(b"/x/" + b"\xff" * 3000)
    assert len(path_to_db(bad).encode()) <= DB_PATH_MAX_BYTES
    assert path_from_row(path_to_db(bad), path_to_db(bad, full=True)) == bad
    short = "/x/" + "a" * 100
    assert path_to_db(short) == path_from_db(short) == short
    # Shown (when only the key is at hand) as its beginning, an ellipsis and the file's name.
    assert path_from_db(key_a).startswith("/x/aaa") and "\u2026" in path_from_db(key_a)


def test_files_with_very_long_paths_get_results_without_breaking_their_batch(db, tree):
    summary = ScanService(db, SETTINGS).start([str(tree["root"][0])])
    assert summary.status == "completed", summary.error
    assert summary.files_checked == len(tree["long"]) + len(tree["short"])
    assert summary.healthy == summary.files_checked
    with db.session() as s:
        rows = s.execute(
            sa.select(ScanResult.file_path, ScanResult.file_path_full, ScanResult.scan_status)
        ).all()
    paths = {path_from_row(r.file_path, r.file_path_full): r.scan_status for r in rows}
    assert paths == {str(p): "healthy" for p in (*tree["long"], *tree["short"])}
    assert all(len(r.file_path.encode()) <= DB_PATH_MAX_BYTES for r in rows)

    # Incremental: found again by their key, not checked again.
    again = ScanService(db, SETTINGS).start([str(tree["root"][0])])
    assert again.files_checked == 0 and again.skipped_unchanged == summary.files_checked
    # A rescan of just that file, and marking it good by its real path.
    one = ScanService(db, SETTINGS).start(files=[str(tree["long"][0])])
    assert one.files_checked == 1
    assert mark_good(db, [str(tree["long"][0])]).changed == (
        str(tree["long"][0]),
    )  # the real path, not its key


def test_cleanup_and_changes_use_the_real_long_path(db, tree):
    from pixelprobe_tui.services.changes import FileChangesService
    from pixelprobe_tui.services.cleanup import CleanupService

    root = str(tree["root"][0])
    settings = default_settings(workers=2, scan_paths=[root])
    ScanService(db, settings).start([root])
    total = len(tree["long"]) + len(tree["short"])
    cleanup = CleanupService(db, settings).run("apply")
    assert (cleanup.checked, cleanup.present, cleanup.missing, cleanup.deleted) == (total, total, 0, 0)
    changes = FileChangesService(db, settings).run()
    assert (changes.checked, changes.unchanged, changes.missing) == (total, total, 0)

    tree["long"][0].unlink()  # really gone now: cleanup finds it through its whole path
    assert CleanupService(db, settings).run("apply").deleted == 1


def test_results_json_gives_the_long_path_back(db, database_url, tree):
    ScanService(db, SETTINGS).start([str(tree["root"][0])])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    out = subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "results", "--json", "--database-url", database_url],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout.decode("utf-8"))
    real = {
        base64.b64decode(r["file_path_b64"]) if "file_path_b64" in r else r["file_path"].encode()
        for r in records
    }
    assert real == {os.fsencode(p) for p in (*tree["long"], *tree["short"])}
    assert all("file_path_full" not in r for r in records)  # one path field, the real one


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_migration_turns_stored_long_paths_into_keys_and_back(database_url):
    """SQLite has no index limit, so an older database may hold long paths as they are."""
    from pixelprobe_tui.db.migrate import downgrade, open_database, upgrade

    long_path = "/lib/" + "d" * 2500 + "/clip.mp4"
    db = open_database(database_url)  # at head
    try:
        downgrade(db, "0004")
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO scan_results (file_path, scan_status) VALUES (?, 'healthy'), ('/lib/short.mp4', 'healthy')",
                (long_path,),
            )
        upgrade(db)
        with db.session() as s:
            rows = dict(s.execute(sa.select(ScanResult.file_path, ScanResult.file_path_full)).all())
        assert rows == {path_to_db(long_path): long_path, "/lib/short.mp4": None}
        downgrade(db, "0004")
        with db.engine.connect() as conn:
            paths = {p for (p,) in conn.exec_driver_sql("SELECT file_path FROM scan_results")}
        assert paths == {long_path, "/lib/short.mp4"}
    finally:
        db.dispose()


def test_exports_give_the_whole_long_path(db, tree):
    import io

    from pixelprobe_tui.services.exports import export_results

    ScanService(db, SETTINGS).start([str(tree["root"][0])])
    out = io.BytesIO()
    export_results(db, out, "json")
    records = json.loads(out.getvalue().decode("utf-8"))
    real = {
        base64.b64decode(r["file_path_b64"]) if "file_path_b64" in r else r["file_path"].encode()
        for r in records
    }
    assert real == {os.fsencode(p) for p in (*tree["long"], *tree["short"])}
    assert all("file_path_full" not in r for r in records)
