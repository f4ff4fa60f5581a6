"""verdict_history on SQLite and PostgreSQL: a row per changed verdict, none per unchanged rescan."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from pixelprobe_tui.core.samples import damage_file
from pixelprobe_tui.db.models import ScanResult, VerdictHistory
from pixelprobe_tui.services.browse import result_detail
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.scan import ScanService

SETTINGS = default_settings(workers=2)


def _history(db, path: Path) -> list[VerdictHistory]:
    with db.session() as s:
        result_id = s.scalars(sa.select(ScanResult.id).where(ScanResult.file_path == str(path))).one()
        return list(
            s.scalars(
                sa.select(VerdictHistory)
                .where(VerdictHistory.result_id == result_id)
                .order_by(VerdictHistory.checked_at, VerdictHistory.id)
            )
        )


def test_a_changed_verdict_adds_a_history_row_and_an_unchanged_rescan_adds_none(db, tmp_path, media_factory):
    root = tmp_path / "library"
    root.mkdir()
    song = shutil.copyfile(media_factory("flac", seconds=1.0), root / "song.flac")
    picture = shutil.copyfile(media_factory("png", size=(64, 48)), root / "picture.png")
    service = ScanService(db, SETTINGS)
    first = service.start([str(root)])
    assert (first.healthy, first.corrupted) == (2, 0)

    damage_file(media_factory("flac", seconds=1.0), song, "truncated")
    second = service.start([str(root)], force=True)
    assert (second.files_checked, second.corrupted) == (2, 1)

    song_history = _history(db, song)
    assert [h.scan_status for h in song_history] == ["healthy", "corrupted"]
    assert [h.scan_id for h in song_history] == [uuid.UUID(first.scan_id), uuid.UUID(second.scan_id)]
    assert song_history[0].file_hash != song_history[1].file_hash
    assert not song_history[0].is_corrupted and song_history[1].is_corrupted
    assert not song_history[0].summary and song_history[1].summary  # the finding, in short
    assert song_history[1].checked_at >= song_history[0].checked_at

    (only,) = _history(db, picture)  # checked twice, same verdict and content: recorded once
    assert only.scan_status == "healthy" and only.scan_id == uuid.UUID(first.scan_id)

    with db.session() as s:
        song_id = s.scalars(sa.select(ScanResult.id).where(ScanResult.file_path == str(song))).one()
    detail = result_detail(db, song_id)
    assert detail is not None
    assert [h.scan_status for h in detail.history] == ["corrupted", "healthy"]  # newest first

    with db.engine.begin() as conn:  # the history goes with its file
        conn.execute(sa.delete(ScanResult.__table__).where(ScanResult.__table__.c.id == song_id))
    with db.session() as s:
        left = s.scalars(sa.select(VerdictHistory.result_id)).all()
    assert song_id not in left and len(left) == 1
