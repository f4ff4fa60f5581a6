"""``pixelprobe schedule``, ``run-due``, ``daemon``, ``cleanup`` and ``export`` in subprocesses, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.db.models import LogEntry, ScanReport, ScanResult, ScanSchedule, ScanState
from pixelprobe_tui.services.scan_lock import claim_scan, release_claim

BERLIN = ZoneInfo("Europe/Berlin")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    env["TZ"] = "Europe/Berlin"
    env.update(extra or {})
    return env


def run(database_url: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in the Europe/Berlin zone; PIXELPROBE_* variables of the test run are not passed on."""
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stderr
    return out.stdout


def one_line_error(out: subprocess.CompletedProcess[str], text: str) -> None:
    assert out.returncode == 2, out
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pixelprobe: error: ") and text in lines[0], out.stderr


def make_due(db, name: str, minutes_ago: int = 5) -> dt.datetime:
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=minutes_ago)
    with db.session() as s:
        s.execute(sa.update(ScanSchedule).where(ScanSchedule.name == name).values(next_run=when))
    return when


def reports(db, scan_type: str | None = None) -> list[ScanReport]:
    stmt = sa.select(ScanReport).order_by(ScanReport.id)
    if scan_type:
        stmt = stmt.where(ScanReport.scan_type == scan_type)
    with db.session() as s:
        return list(s.execute(stmt).scalars())


def schedule_row(db, name: str) -> ScanSchedule:
    with db.session() as s:
        return s.execute(sa.select(ScanSchedule).where(ScanSchedule.name == name)).scalar_one()


# -- schedule -----------------------------------------------------------------------------------------------


def test_schedule_commands(db, database_url, tmp_path):
    added = json.loads(ok(run(database_url, "schedule", "add", "nightly", "0 3 * * *", "--json")))
    runs = [dt.datetime.fromisoformat(r).astimezone(BERLIN) for r in added["next_runs"]]
    assert len(runs) == 5 and all((r.hour, r.minute) == (3, 0) for r in runs)
    assert len({r.date() for r in runs}) == 5

    text = ok(run(database_url, "schedule", "add", "sweep", "every 6h", "--type", "cleanup"))
    assert text.startswith("sweep: cleanup, every 6h, enabled\nnext runs:\n")
    assert len(text.splitlines()) == 7

    listed = ok(run(database_url, "schedule", "list"))
    header, *rows = listed.splitlines()
    assert header.split()[:3] == ["NAME", "TYPE", "WHEN"]
    assert [r.split()[0] for r in rows] == ["nightly", "sweep"]
    assert "CET" in rows[0] or "CEST" in rows[0]

    edited = json.loads(
        ok(
            run(
                database_url,
                "schedule",
                "edit",
                "nightly",
                "--spec",
                "every 1d at 04:15",
                "--path",
                str(tmp_path),
                "--force-rescan",
                "--json",
            )
        )  # fmt: skip
    )
    assert edited["schedule_value"] == "15 4 * * *" and edited["scan_paths"] == [str(tmp_path)]
    assert edited["force_rescan"] is True

    assert "disabled" in ok(run(database_url, "schedule", "disable", "sweep"))
    assert schedule_row(db, "sweep").next_run is None
    assert "next runs:" in ok(run(database_url, "schedule", "enable", "sweep"))
    assert schedule_row(db, "sweep").next_run is not None
    assert ok(run(database_url, "schedule", "remove", "sweep")) == "removed schedule 'sweep'\n"

    one_line_error(run(database_url, "schedule", "add", "x", "0 3 * * * *"), "6 fields, expected 5")
    one_line_error(run(database_url, "schedule", "add", "nightly", "@daily"), "already exists")
    one_line_error(run(database_url, "schedule", "remove", "sweep"), "no schedule named 'sweep'")
    one_line_error(run(database_url, "schedule", "add", "x", "every 1h", "--path", "rel"), "must be absolute")
    preview = ok(run(database_url, "schedule", "preview", "30 2 28 3 *", "-n", "2"))
    # 02:30 does not exist on 2027-03-28 in Berlin (clocks go from 02:00 to 03:00): it runs at 03:00.
    assert preview.splitlines()[1:] == ["  2027-03-28 03:00 CEST (Sun)", "  2028-03-28 02:30 CEST (Tue)"]


# -- run-due and daemon -------------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_run_due_runs_a_scan_schedule_and_gives_back_when_busy(db, database_url, tmp_path, media_factory):
    root = tmp_path / "library"
    root.mkdir()
    shutil.copyfile(media_factory("png", size=(64, 48)), root / "pic.png")
    ok(run(database_url, "config", "set", "workers", "1"))
    ok(run(database_url, "schedule", "add", "lib", "every 1d", "--path", str(root)))
    assert ok(run(database_url, "run-due")) == "nothing due\n"

    slot = make_due(db, "lib")
    claim = claim_scan(db, ["/elsewhere"], deep=False, force=False)  # another scan holds the database
    try:
        busy = json.loads(ok(run(database_url, "run-due", "--json")))
    finally:
        release_claim(claim)
        with db.session() as s:  # that other scan ends
            s.execute(sa.update(ScanState).where(ScanState.id == claim.scan_id).values(status="completed"))
    assert [(o["name"], o["status"]) for o in busy] == [("lib", "busy")]
    assert "given back" in busy[0]["message"]
    row = schedule_row(db, "lib")
    assert (row.next_run, row.last_run, row.claimed_by) == (slot, None, None)  # still due, nothing lost

    done = json.loads(ok(run(database_url, "run-due", "--json")))
    assert [(o["name"], o["status"]) for o in done] == [("lib", "ran")], done
    with db.session() as s:
        paths = s.execute(sa.select(ScanResult.file_path, ScanResult.scan_status)).all()
    assert paths == [(path_to_db(str(root / "pic.png")), "healthy")]
    row = schedule_row(db, "lib")
    assert row.last_run is not None and row.next_run > dt.datetime.now(dt.UTC) and row.claimed_by is None
    assert len(reports(db)) == 1
    assert ok(run(database_url, "run-due")) == "nothing due\n"


def test_two_run_due_processes_run_a_slot_once(db, database_url, tmp_path):
    ok(run(database_url, "schedule", "add", "sweep", "every 1h", "--type", "cleanup"))
    for round_ in range(3):
        make_due(db, "sweep", minutes_ago=5 + round_)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "pixelprobe_tui", "run-due", "--json", "--database-url", database_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=clean_env(),
                stdin=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=240) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        ran = [o for out, _ in outs for o in json.loads(out)]
        assert [o["status"] for o in ran] == ["ran"], outs
        assert len(reports(db, "cleanup")) == round_ + 1


def test_daemon_runs_due_schedules_and_stops_on_sigterm(db, database_url):
    ok(run(database_url, "schedule", "add", "sweep", "every 1h", "--type", "cleanup"))
    make_due(db, "sweep")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelprobe_tui", "daemon", "--poll", "0.3", "--database-url", database_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not reports(db, "cleanup"):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the daemon did not run the due schedule"
            time.sleep(0.2)
        make_due(db, "sweep")  # due again while the daemon runs: it runs it once more
        while len(reports(db, "cleanup")) < 2:
            assert time.monotonic() < deadline, "the daemon did not run the schedule a second time"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("pixelprobe daemon: running schedules of ")
    assert sum(": ran" in line for line in lines) == 2
    assert lines[-1] == "pixelprobe daemon: stopped"
    assert "SIGTERM" in err
    assert schedule_row(db, "sweep").claimed_by is None
    with db.session() as s:  # the runs are in the log table, for the TUI's Logs screen
        messages = list(s.execute(sa.select(LogEntry.message)).scalars())
    assert sum(m.startswith("schedule 'sweep' ran") for m in messages) == 2, messages


# -- cleanup ------------------------------------------------------------------------------------------------


def test_cleanup_command(db, database_url, tmp_path):
    present, empty = tmp_path / "present", tmp_path / "empty"
    present.mkdir()
    empty.mkdir()
    (present / "kept.jpg").write_bytes(b"x")
    paths = [present / "kept.jpg", present / "gone.jpg", empty / "a.jpg", tmp_path / "unplugged" / "b.jpg"]
    with db.session() as s:
        for p in paths:
            s.add(ScanResult(file_path=path_to_db(str(p)), scan_status="healthy"))
    ok(
        run(
            database_url, "config", "set", "scan_paths", str(present), str(empty), str(tmp_path / "unplugged")
        )
    )

    dry_run = run(database_url, "cleanup", "--dry-run", "--json")
    assert "cleanup: done 4/4 records, 1 gone" in dry_run.stderr  # progress on stderr, JSON alone on stdout
    dry = json.loads(ok(dry_run))
    assert run(database_url, "cleanup", "--dry-run", "--quiet").stderr == ""
    assert (dry["missing"], dry["marked"], dry["deleted"]) == (1, 0, 0)
    assert dry["missing_paths"] == [str(present / "gone.jpg")]
    assert {r["root"]: r["reason"] for r in dry["roots"] if not r["available"]} == {
        str(empty): "empty (not mounted?)",
        str(tmp_path / "unplugged"): "missing",
    }

    marked = ok(run(database_url, "cleanup"))
    assert f"root unavailable: {empty} (empty (not mounted?)); 1 record(s) left alone" in marked
    assert "1 gone, 1 newly marked; delete them with --apply" in marked
    with db.session() as s:
        flags = dict(s.execute(sa.select(ScanResult.file_path, ScanResult.file_exists)).all())
    assert flags[str(present / "gone.jpg")] is False and flags[str(empty / "a.jpg")] is True

    applied = json.loads(ok(run(database_url, "cleanup", "--apply", "--json")))
    assert applied["deleted"] == 1 and applied["skipped_unavailable_root"] == 2
    with db.session() as s:
        left = set(s.execute(sa.select(ScanResult.file_path)).scalars())
    assert left == {str(p) for p in paths} - {str(present / "gone.jpg")}
    assert [r.scan_type for r in reports(db)] == ["cleanup", "cleanup"]
    one = run(database_url, "cleanup", "--apply", "--dry-run")
    assert one.returncode == 2 and "not allowed with" in one.stderr


# -- export -------------------------------------------------------------------------------------------------


def test_export_command(db, database_url, tmp_path):
    with db.session() as s:
        for i in range(50):
            status = ("healthy", "corrupted", "warning")[i % 3]
            s.add(
                ScanResult(
                    file_path=f"/lib/f{i:03d}.mkv", scan_status=status, is_corrupted=status == "corrupted"
                )
            )
        s.add(ScanReport(scan_type="cleanup", status="completed", details={"deleted": 2}))
    target = tmp_path / "all.csv"
    out = run(database_url, "export", "results", "-o", str(target))
    assert out.returncode == 0 and out.stdout == ""
    assert out.stderr == f"exported 50 results to {target} (csv)\n"
    assert len(list(csv.DictReader(target.open(newline="")))) == 50

    some = json.loads(
        ok(run(database_url, "export", "results", "--status", "corrupted,warning", "--format", "json"))
    )
    assert len(some) == 33 and {r["scan_status"] for r in some} == {"corrupted", "warning"}
    assert [r["file_path"] for r in some] == sorted(r["file_path"] for r in some)

    reports_file = tmp_path / "reports.json"
    ok(run(database_url, "export", "reports", "-o", str(reports_file)))
    assert json.loads(reports_file.read_text())[0]["details"] == {"deleted": 2}
    rows = list(
        csv.DictReader(io.StringIO(ok(run(database_url, "export", "reports", "--type", "full_scan"))))
    )
    assert rows == []

    one_line_error(run(database_url, "export", "results", "--status", "broken"), "unknown status broken")
    assert not list(tmp_path.glob(".pixelprobe-export-*"))


# -- schedule run (on demand) -------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_schedule_run_runs_a_scan_now_with_the_scans_exit_status(
    db, database_url, tmp_path, media_factory, damaged_media
):
    root = tmp_path / "library"
    root.mkdir()
    shutil.copyfile(media_factory("png", size=(64, 48)), root / "pic.png")
    ok(run(database_url, "config", "set", "workers", "1"))
    ok(run(database_url, "schedule", "add", "lib", "0 3 * * *", "--path", str(root)))
    planned = schedule_row(db, "lib").next_run

    done = run(database_url, "schedule", "run", "lib")
    assert done.returncode == 0, done.stderr
    assert "running schedule 'lib' now: scan of " + str(root) in done.stderr
    assert "Scan completed" in done.stdout and "healthy 1" in done.stdout
    assert "schedule 'lib': last run " in done.stdout
    row = schedule_row(db, "lib")
    # Recorded as the last run; the plan (tomorrow 03:00) is untouched; the claim is gone.
    assert row.last_run is not None and row.next_run == planned and row.claimed_by is None
    assert len(reports(db)) == 1

    shutil.copyfile(damaged_media("png", "truncated"), root / "broken.png")
    found = run(database_url, "schedule", "run", str(row.id), "--json")  # by id
    assert found.returncode == 1, found.stderr
    data = json.loads(found.stdout)
    assert data["schedule"]["name"] == "lib" and data["summary"]["status"] == "completed"
    assert data["summary"]["corrupted"] + data["summary"]["unreadable"] >= 1

    last = schedule_row(db, "lib").last_run
    claim = claim_scan(db, ["/elsewhere"], deep=False, force=False)  # another scan holds the database
    try:
        busy = run(database_url, "schedule", "run", "lib", "--quiet")
    finally:
        release_claim(claim)
        with db.session() as s:
            s.execute(sa.update(ScanState).where(ScanState.id == claim.scan_id).values(status="completed"))
    one_line_error(busy, "a scan is already running")
    row = schedule_row(db, "lib")
    assert (row.last_run, row.next_run, row.claimed_by) == (last, planned, None)  # nothing recorded


def test_schedule_run_of_a_due_or_disabled_cleanup_and_refusals(db, database_url, tmp_path):
    ok(run(database_url, "schedule", "add", "sweep", "every 1h", "--type", "cleanup"))
    slot = make_due(db, "sweep")
    out = run(database_url, "schedule", "run", "sweep")
    assert out.returncode == 0, out.stderr
    assert "cleanup: done 0/0 records, 0 gone" in out.stderr  # progress (not a terminal: plain lines)
    assert "cleanup completed: 0 records checked" in out.stdout
    row = schedule_row(db, "sweep")
    # It was due: this run is that slot, so the next run moved on and run-due has nothing left to do.
    assert row.next_run > slot and row.next_run > dt.datetime.now(dt.UTC) and row.claimed_by is None
    assert ok(run(database_url, "run-due")) == "nothing due\n"
    assert len(reports(db, "cleanup")) == 1

    ok(run(database_url, "schedule", "disable", "sweep"))
    quiet = run(database_url, "schedule", "run", "sweep", "--quiet", "--json")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert json.loads(quiet.stdout)["summary"]["mode"] == "mark"
    row = schedule_row(db, "sweep")
    assert row.next_run is None and row.last_run is not None and not row.is_active

    with db.session() as s:  # another live process is running it
        s.execute(
            sa.update(ScanSchedule)
            .where(ScanSchedule.name == "sweep")
            .values(claimed_by="otherhost:1:abc", claimed_at=dt.datetime.now(dt.UTC))
        )
    running = run(database_url, "schedule", "run", "sweep", "-q")
    one_line_error(running, "schedule 'sweep' is running already (otherhost:1:abc)")
    one_line_error(run(database_url, "schedule", "run", "nope"), "no schedule named 'nope'")
    assert len(reports(db, "cleanup")) == 2


def test_maintenance_progress_on_a_terminal_is_one_line_redrawn():
    from pixelprobe_tui.commands.schedule import MaintenanceProgressPrinter
    from pixelprobe_tui.services.changes import ChangesProgress
    from pixelprobe_tui.services.cleanup import CleanupProgress

    out = io.StringIO()
    show = MaintenanceProgressPrinter(out, "cleanup", tty=True)
    show(CleanupProgress("checking", 10, 100, 1))
    show(CleanupProgress("checking", 20, 100, 2))  # within a quarter second: skipped
    show(CleanupProgress("done", 100, 100, 3))  # the end is always shown, then the line is kept
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "20/100" not in text
    assert (
        "cleanup: checking 10/100 records, 1 gone" in text and "cleanup: done 100/100 records, 3 gone" in text
    )

    out = io.StringIO()
    show = MaintenanceProgressPrinter(out, "file changes", tty=False, line_interval_s=3600)
    show(ChangesProgress("hashing", 5, 50, 1, 0, 2))
    show(ChangesProgress("hashing", 6, 50, 1, 0, 2))
    show(ChangesProgress("done", 50, 50, 1, 1, 2))
    assert out.getvalue().splitlines() == [
        "file changes: hashing 5/50 records, 1 modified, 0 bitrot suspected, 2 missing",
        "file changes: done 50/50 records, 1 modified, 1 bitrot suspected, 2 missing",
    ]
