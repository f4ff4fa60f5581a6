"""Names that are not UTF-8 (and names with control characters) in every JSON and listing the CLI prints.

The rule (``discovery.json_path_fields``): a path field is valid text, exact for UTF-8 names and with U+FFFD
for invalid bytes, and then a ``<key>_b64`` field carries the raw bytes. Plain listings never print a
control character from a name. Real CLI in a subprocess, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from pixelprobe_tui.core.discovery import (
    json_path_fields,
    json_path_list_fields,
    json_safe,
    path_bytes_b64,
    path_text,
)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    env["PYTHONIOENCODING"] = "utf-8"  # strict: a lone surrogate in the output would be an error
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", *args],
        capture_output=True,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        timeout=240,
    )


def _real(record: dict, key: str) -> bytes:
    """What a script does to get the exact name back."""
    if key + "_b64" in record:
        return base64.b64decode(record[key + "_b64"])
    return record[key].encode("utf-8")


def _json(raw: bytes):
    return json.loads(raw.decode("utf-8"))  # strict UTF-8: what any other language's parser needs


@pytest.fixture
def odd_library(tmp_path, media_factory) -> tuple[bytes, list[bytes]]:
    root = os.fsencode(tmp_path) + b"/lib"
    bad_dir = root + b"/d\xffir"
    os.makedirs(bad_dir)
    png = media_factory("png", size=(48, 32))
    names = [
        bad_dir + b"/caf\xe9.png",
        root + b"/esc\x1b[31mred\nline.png",
        root + b"/plain.png",
        root + b"/\xf4\x8f\xb6\x80reserved.png",  # U+10FD80: valid UTF-8 the database form must escape
    ]
    for name in names:
        shutil.copyfile(png, name)
    return root, names


def test_json_fields_round_trip_bytes():
    for raw in (b"/a/caf\xe9.png", b"/a/\xff\xfe", b"/a/ok \xc3\xa9.png", b"/a/new\nline"):
        path = os.fsdecode(raw)
        fields = json_path_fields("file_path", path)
        text = json.dumps(fields, ensure_ascii=False).encode("utf-8")  # must encode strictly
        assert _real(json.loads(text), "file_path") == raw
        assert ("file_path_b64" in fields) == (path_bytes_b64(path) is not None)
    assert json_path_fields("p", os.fsdecode(b"/x/\xe9")) == {"p": "/x/\ufffd", "p_b64": "L3gv6Q=="}
    assert json_path_fields("p", "/x/é") == {"p": "/x/é"}  # nothing extra for a UTF-8 name
    assert json_path_list_fields("roots", ["/a", os.fsdecode(b"/\xff")]) == {
        "roots": ["/a", "/\ufffd"],
        "roots_b64": [None, "L/8="],
    }
    assert json_path_list_fields("roots", ["/a"]) == {"roots": ["/a"]}
    assert json_safe({"m": [os.fsdecode(b"no \xff"), 1]}) == {"m": ["no \ufffd", 1]}
    assert path_text("\ud800x") == "\ufffd\ufffd\ufffdx"  # not a real name, but never a crash


def test_results_scan_and_check_json_give_the_real_path_back(database_url, odd_library):
    root, names = odd_library
    bad_root = os.fsdecode(root + b"/d\xffir")
    scan = _cli("scan", os.fsdecode(root), "--json", "-q", "--database-url", database_url)
    assert scan.returncode == 0, scan.stderr
    summary = _json(scan.stdout)
    assert summary["status"] == "completed" and summary["healthy"] == len(names)

    results = _cli("results", "--json", "--database-url", database_url)
    assert results.returncode == 0, results.stderr
    records = _json(results.stdout)
    assert sorted(_real(r, "file_path") for r in records) == sorted(names)
    by_name = {_real(r, "file_path"): r for r in records}
    assert by_name[names[0]]["file_path"].endswith("/d\ufffdir/caf\ufffd.png")
    assert "file_path_b64" not in by_name[names[1]] and "file_path_b64" not in by_name[names[3]]

    # A root that is not UTF-8, with a nested root given too: every path field of the summary.
    nested = bad_root + "/caf\udce9.png"
    again = _cli("scan", bad_root, nested, "--force", "--json", "-q", "--database-url", database_url)
    assert again.returncode == 0, again.stderr
    summary = _json(again.stdout)
    assert summary["files_checked"] == 1
    assert [base64.b64decode(b) for b in summary["roots_b64"]] == [root + b"/d\xffir"]
    assert _real(summary["discovery"]["roots_dropped"][0], "root") == names[0]
    assert [base64.b64decode(b) for b in summary["discovery"]["roots_b64"]] == [root + b"/d\xffir"]

    check = _cli("check", "--json", "--no-media-info", bad_root, os.fsdecode(names[1]))
    assert check.returncode == 0, check.stderr
    lines = [_json(line) for line in check.stdout.splitlines()]
    assert [_real(r, "path") for r in lines] == [names[0], names[1]]


def test_plain_listings_never_print_control_characters(database_url, odd_library):
    root, names = odd_library
    assert _cli("scan", os.fsdecode(root), "-q", "--database-url", database_url).returncode == 0
    for out in (
        _cli("results", "--database-url", database_url).stdout,
        _cli("check", os.fsdecode(root)).stdout,
        _cli("mark-good", os.fsdecode(names[1]), "--database-url", database_url).stdout,
    ):
        text = out.decode("utf-8")  # valid UTF-8, bad bytes shown as \xNN
        assert "\x1b" not in text and "esc\\x1b[31mred\\nline.png" in text
        assert not [c for c in text if unicodedata.category(c) in ("Cc", "Cf") and c != "\n"]


def test_config_show_json_gives_scan_paths_back(database_url, tmp_path):
    raw = os.fsencode(tmp_path) + b"/m\xe9dia"
    assert (
        _cli("config", "set", "scan_paths", os.fsdecode(raw), "--database-url", database_url).returncode == 0
    )
    out = _cli("config", "show", "--json", "scan_paths", "--database-url", database_url)
    assert out.returncode == 0, out.stderr
    (record,) = _json(out.stdout)
    assert [base64.b64decode(b) for b in record["value_b64"]] == [raw]
    assert record["value"] == [path_text(os.fsdecode(raw))]
