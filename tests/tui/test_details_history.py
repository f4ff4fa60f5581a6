"""The details screen's "Earlier verdicts": a file's verdict changes, newest first, on demo data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult, VerdictHistory
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.details import DetailsScreen
from tests.tui.conftest import run, text_of, wait_for


def test_details_lists_earlier_verdicts_newest_first(demo_db: Database) -> None:
    with demo_db.session() as s:
        with_history, without = s.scalars(
            sa.select(ScanResult.id)
            .where(ScanResult.scan_status == "corrupted")
            .order_by(ScanResult.id)
            .limit(2)
        ).all()
        current_hash = s.scalars(sa.select(ScanResult.file_hash).where(ScanResult.id == with_history)).one()
        s.add_all(
            [
                VerdictHistory(
                    result_id=with_history,
                    checked_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                    scan_status="healthy",
                    file_hash="xxh3_128:old",
                ),
                VerdictHistory(
                    result_id=with_history,
                    checked_at=dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC),
                    scan_status="corrupted",
                    is_corrupted=True,
                    summary="ffmpeg: invalid NAL unit size at 1.20 s",
                    file_hash=current_hash,
                ),
            ]
        )

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=60)
        async with app.run_test(size=(100, 40)) as pilot:
            for result_id in (with_history, without):
                app.push_screen(DetailsScreen(result_id))
                await wait_for(
                    pilot,
                    lambda rid=result_id: (
                        isinstance(app.screen, DetailsScreen)
                        and app.screen.result_id == rid
                        and app.screen.detail is not None
                    ),
                    what="details loaded",
                )
                shown = text_of(app.screen.query_one("#history").content)
                if result_id == with_history:
                    assert "corrupted (now)" in shown and "invalid NAL unit size at 1.20 s" in shown
                    assert shown.index("corrupted (now)") < shown.index("healthy")  # newest first
                    assert shown.index("2026-03-04") < shown.index("2026-01-02")
                else:
                    assert "None recorded" in shown
                await pilot.press("escape")
                await pilot.pause()

    run(body())
