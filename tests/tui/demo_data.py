"""Realistic, deterministic demo rows for the TUI tests, the screenshots and the benchmark.

Paths look like a media library (films, series, music, photos), verdicts follow a plausible mix, corrupted and
warning rows carry findings with tools and time offsets, and a few reports tell the history. The same seed
always gives the same rows, so snapshots are stable.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from typing import Any

import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanReport, ScanResult, ScanState

NOW = dt.datetime(2026, 11, 20, 21, 30, tzinfo=dt.UTC)
FILMS = ["Arrival", "Blade Runner", "Chinatown", "Dune", "Heat", "Le Samourai", "Metropolis", "Paprika",
         "Solaris", "Stalker", "The Third Man", "Vertigo", "Alien", "Brazil", "Ran", "Playtime"]  # fmt: skip
SERIES = ["The Wire", "Twin Peaks", "Dark", "The Expanse"]
ARTISTS = ["Bach - Goldberg Variations", "Miles Davis - Kind of Blue", "Nina Simone - Pastel Blues",
           "Kraftwerk - Computerwelt", "Radiohead - OK Computer", "Bjork - Homogenic"]  # fmt: skip
FINDINGS = {
    "corrupted": [
        ("corrupt", "decode_error", "pyav", "Invalid NAL unit size (1852397 > 4231)"),
        ("corrupt", "truncated", "structure:mp4", "mdat box ends 3.1 MB past the end of the file"),
        ("corrupt", "flac_md5", "flac", "decoded audio does not match the stored MD5"),
        ("corrupt", "jpeg_data", "simplejpeg", "Corrupt JPEG data: premature end of data segment"),
    ],
    "warning": [
        ("warning", "exif", "pillow", "EXIF block is truncated (orientation unknown)"),
        ("warning", "timestamps", "pyav", "non-monotonic DTS in stream 1; previous 43008, current 42496"),
        ("warning", "trailing_data", "structure:flac", "412 bytes of data after the last frame"),
    ],
    "unreadable": [("unreadable", "io_error", "reader", "[Errno 5] Input/output error")],
    "unsupported": [("unsupported", "no_checker", "dispatch", "no checker for .iso files")],
}


def _path(rng: random.Random, i: int) -> tuple[str, str, str, int]:
    kind = rng.random()
    if kind < 0.35:
        film = rng.choice(FILMS)
        year = 1920 + rng.randrange(100)
        return (
            f"/srv/media/Movies/{film} ({year})/{film} ({year}) [{i}].mkv",
            "video",
            "video/x-matroska",
            rng.randrange(700, 9000) * 1_000_000,
        )
    if kind < 0.5:
        show = rng.choice(SERIES)
        return (
            f"/srv/media/TV/{show}/Season {rng.randrange(1, 6):02d}/{show} S{rng.randrange(1, 6):02d}E{i % 24 + 1:02d} [{i}].mp4",
            "video",
            "video/mp4",
            rng.randrange(200, 2500) * 1_000_000,
        )
    if kind < 0.75:
        album = rng.choice(ARTISTS)
        return (
            f"/srv/media/Music/{album}/{i % 18 + 1:02d} Track {i}.flac",
            "audio",
            "audio/flac",
            rng.randrange(15, 60) * 1_000_000,
        )
    return (
        f"/srv/media/Photos/{2015 + i % 11}/{rng.randrange(1, 13):02d}/IMG_{i:05d}.jpg",
        "image",
        "image/jpeg",
        rng.randrange(1500, 9000) * 1000,
    )


def demo_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` ScanResult rows as dicts (insert with ``sa.insert(ScanResult)``)."""
    rng = random.Random(seed)
    weights = [
        ("healthy", 86),
        ("warning", 6),
        ("corrupted", 4),
        ("unreadable", 1),
        ("unsupported", 1),
        ("pending", 2),
    ]
    statuses = [s for s, w in weights for _ in range(w)]
    rows = []
    for i in range(n):
        path, family, ftype, size = _path(rng, i)
        status = rng.choice(statuses)
        findings = [
            {
                "severity": sev,
                "code": code,
                "tool": tool,
                "message": msg,
                **({"at_seconds": round(rng.uniform(1, 5400), 2)} if tool == "pyav" else {}),
            }
            for sev, code, tool, msg in ([rng.choice(FINDINGS[status])] if status in FINDINGS else [])
        ]
        scanned = None if status == "pending" else NOW - dt.timedelta(minutes=rng.randrange(60 * 24 * 30))
        media = None
        if status != "pending":
            if family == "video":
                media = {"duration_s": round(rng.uniform(1200, 9000), 1), "container": ftype.split("/")[1],
                         "streams": [{"type": "video", "codec": rng.choice(["h264", "hevc", "av1"]), "width": 1920, "height": 1080},
                                     {"type": "audio", "codec": rng.choice(["aac", "opus", "ac3"]), "channels": 6}]}  # fmt: skip
            elif family == "audio":
                media = {
                    "duration_s": round(rng.uniform(120, 600), 1),
                    "codec": "flac",
                    "sample_rate": 44100,
                    "channels": 2,
                }
            else:
                media = {"format": "JPEG", "width": 4032, "height": 3024, "mode": "RGB"}
        marked = status in ("warning", "corrupted") and rng.random() < 0.2
        rows.append(
            {
                "file_path": path,
                "file_hash": None if status == "pending" else f"xxh3_128:{rng.getrandbits(128):032x}",
                "is_corrupted": status == "corrupted",
                "has_warning": status == "warning",
                "scan_date": scanned,
                "file_size": size,
                "file_type": ftype,
                "scan_tool": {"video": "pyav", "audio": "flac", "image": "simplejpeg"}[family]
                if scanned
                else None,
                "scan_duration": round(rng.uniform(0.05, 40), 2) if scanned else None,
                "error_message": findings[0]["message"] if status in ("unreadable", "unsupported") else None,
                "media_info": json.dumps(media) if media else None,
                "file_exists": rng.random() > 0.003,
                "marked_as_good": marked,
                "marked_as_good_at": NOW - dt.timedelta(days=2) if marked else None,
                "marked_as_good_by": "alice@nas" if marked else None,
                "scan_status": status,
                "media_family": family,
                "findings": json.dumps(findings) if findings else None,
                "deep_scanned": rng.random() < 0.3,
                "discovered_at": NOW - dt.timedelta(days=40),
            }
        )
    return rows


def populate(db: Database, n: int = 400, seed: int = 1, reports: int = 6) -> None:
    """Insert ``n`` demo results and ``reports`` finished scan reports."""
    rows = demo_rows(n, seed)
    with db.session() as s:
        for i in range(0, len(rows), 5000):
            s.execute(sa.insert(ScanResult), rows[i : i + 5000])
        for k in range(reports):
            start = NOW - dt.timedelta(days=k * 3, hours=2)
            status = "cancelled" if k == 2 else "completed"
            s.add(
                ScanReport(
                    scan_type="full_scan" if k % 2 == 0 else "incremental",
                    start_time=start,
                    end_time=start + dt.timedelta(minutes=47 + k),
                    status=status,
                    total_files=n - k * 7,
                    corrupted_files=max(0, 16 - k),
                    warning_files=24 - k,
                    error_files=k % 3,
                    healthy_files=n - 40,
                    duration_seconds=(47 + k) * 60.0,
                    directories_scanned=["/srv/media"],
                    created_at=start + dt.timedelta(minutes=47 + k),
                )
            )


def add_running_scan(db: Database, owner: str, files_done: int = 1234, files_total: int = 5000) -> str:
    """A ScanState row of a scan in progress, as another process would write it; returns its id."""
    scan_id = uuid.uuid4()
    with db.session() as s:
        s.add(
            ScanState(
                id=scan_id,
                status="running",
                phase="scanning",
                phase_number=3,
                total_phases=3,
                files_processed=files_done,
                total_files=files_total,
                bytes_processed=files_done * 800_000_000,
                bytes_total=files_total * 800_000_000,
                start_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=12),
                heartbeat_at=dt.datetime.now(dt.UTC),
                current_files=json.dumps(
                    [
                        "/srv/media/Movies/Stalker (1979)/Stalker (1979).mkv",
                        "/srv/media/Music/Bach - Goldberg Variations/07 Aria.flac",
                    ]
                ),
                directories=json.dumps(["/srv/media"]),
                owner=owner,
            )
        )
    return str(scan_id)


def add_demo_logs_and_rules(db: Database) -> None:
    """Log entries of a scan, exclusion rules and ignored patterns, for the screenshots."""
    from pixelprobe_tui.db.models import Exclusion, IgnoredErrorPattern, LogEntry

    lines = [
        ("INFO", "pixelprobe.scan", "scan started over /srv/media (deep: no, workers: 4)"),
        ("INFO", "pixelprobe.discovery", "found 20,000 files in 1,312 directories; 19,421 unchanged"),
        (
            "WARNING",
            "pixelprobe.discovery",
            "cannot read directory /srv/media/Photos/2019/.thumbs: permission denied",
        ),
        ("INFO", "pixelprobe.scan", "checking 579 files"),
        ("WARNING", "pixelprobe.check", "check of /srv/media/Movies/Ran (1985)/Ran (1985).mkv took 312 s"),
        (
            "ERROR",
            "pixelprobe.isolation",
            "decoder crashed: signal 11 on /srv/media/TV/Dark/Season 02/Dark S02E03.mp4",
        ),
        ("INFO", "pixelprobe.scan", "scan completed: 579 checked, 4 corrupted, 9 warnings, 1 unreadable"),
    ]
    with db.session() as s:
        for i, (level, logger, message) in enumerate(lines):
            s.add(
                LogEntry(
                    level=level,
                    logger_name=logger,
                    message=message,
                    timestamp=NOW - dt.timedelta(minutes=50 - i * 7),
                )
            )
        s.add_all(
            [
                Exclusion(type="path", value="/srv/media/.Trash"),
                Exclusion(type="extension", value=".nfo"),
                Exclusion(type="path", value="*.part"),
            ]
        )
        s.add(IgnoredErrorPattern(pattern="EXIF block is truncated", description="phone camera quirk"))
        s.add(
            IgnoredErrorPattern(
                pattern="re:non-monotonic DTS", description="old DVB recordings", is_active=False
            )
        )
