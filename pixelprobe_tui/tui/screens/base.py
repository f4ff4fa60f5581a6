"""What every screen shares: background loads with their results and errors handled in one place; for mode
screens also the mode bar on top and the footer with the keys below."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from pixelprobe_tui.tui.widgets.key_footer import KeyFooter
from pixelprobe_tui.tui.widgets.mode_bar import ModeBar

if TYPE_CHECKING:
    from pixelprobe_tui.tui.app import PixelProbeApp


class LoadingScreen(Screen[Any]):
    """A screen that reads the database in thread workers: ``self.load("totals", fn, *args)`` runs
    ``fn(*args)`` in a thread and hands the result to ``self.loaded_totals(result)`` on the UI thread.

    A failed load becomes one error notification; the screen stays usable. A newer load of the same name
    replaces an older one still running (its result is dropped).
    """

    @property
    def pp(self) -> PixelProbeApp:
        """The app, typed."""
        return cast("PixelProbeApp", self.app)

    def load(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Worker[Any]:
        return self.run_worker(
            lambda: fn(*args, **kwargs),
            name=name,
            group=f"load-{name}",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if not worker.group.startswith("load-"):
            return
        if event.state == WorkerState.SUCCESS:
            handler = getattr(self, f"loaded_{worker.name}", None)
            if handler is not None:
                handler(worker.result)
        elif event.state == WorkerState.ERROR:
            error = worker.error
            text = str(error).splitlines()[0] if error is not None and str(error) else repr(error)
            self.notify(text, title=f"Could not {worker.name.replace('_', ' ')}", severity="error", timeout=8)
            handler = getattr(self, f"failed_{worker.name}", None)
            if handler is not None:
                handler(error)


class ModeScreen(LoadingScreen):
    """A screen reachable as a mode. Subclasses set ``MODE`` and implement :meth:`compose_body`."""

    MODE: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield ModeBar(self.MODE)
        yield from self.compose_body()
        yield KeyFooter()

    def compose_body(self) -> Iterable[Widget]:
        raise NotImplementedError
