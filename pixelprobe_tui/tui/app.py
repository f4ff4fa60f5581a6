"""The PixelProbe app: modes (one screen each), global keys with ids, the command palette, help, themes and the
terminal-size guard. Screens read the database through ``pixelprobe_tui.services`` only, in worker threads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.actions import parse as parse_action
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from pixelprobe_tui.core.events import ScanFinished
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.tui.bridge import ScanBridge, ScanUpdate
from pixelprobe_tui.tui.key_help import describe, section_of
from pixelprobe_tui.tui.screens.dashboard import DashboardScreen
from pixelprobe_tui.tui.screens.help import HelpScreen, help_sections
from pixelprobe_tui.tui.screens.logs import LogsScreen
from pixelprobe_tui.tui.screens.reports import ReportsScreen
from pixelprobe_tui.tui.screens.results import ResultsScreen
from pixelprobe_tui.tui.screens.schedules import SchedulesScreen
from pixelprobe_tui.tui.screens.settings import SettingsScreen
from pixelprobe_tui.tui.screens.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen
from pixelprobe_tui.tui.widgets.mode_bar import MODE_TABS

if TYPE_CHECKING:
    from pixelprobe_tui.services.scan import ScanService

LIGHT_THEME = "textual-light"
DARK_THEME = "textual-dark"


def scan_summary_line(f: ScanFinished) -> str:
    """One line for the end-of-scan notification: what was checked, what it found, what was skipped."""

    def n(count: int, word: str) -> str:
        return f"{count:,} {word}{'' if count == 1 else 's'}"

    line = f"{n(f.files_total, 'file')} checked: {f.corrupted:,} corrupted, {n(f.warning, 'warning')}, "
    line += f"{f.unreadable:,} unreadable"
    if f.skipped_unchanged:
        line += f"; {f.skipped_unchanged:,} unchanged, not read again"
    if f.incomplete_reason:
        line += f". Incomplete: {f.incomplete_reason}"
    return line


def _binding_classes() -> list[type]:
    """The app's screen and widget classes that declare bindings (all screen modules imported first)."""
    import importlib
    import pkgutil

    from textual.dom import DOMNode

    from pixelprobe_tui.tui import screens, widgets

    for package in (screens, widgets):  # some screens are imported only when first shown
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)

    found: list[type] = []
    pending: list[type] = [DOMNode]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("pixelprobe_tui.") and cls.__dict__.get("BINDINGS"):
            found.append(cls)
    return found


def _bindings(cls: type) -> list[Binding]:
    return [b for b in cls.__dict__.get("BINDINGS", ()) if isinstance(b, Binding)]


def known_binding_ids() -> set[str]:
    """Every binding id the app's screens and widgets declare (what a key map may name)."""
    return {b.id for cls in _binding_classes() for b in _bindings(cls) if b.id}


def keymap_clashes(keymap: Mapping[str, str]) -> list[str]:
    """Keys that, after remapping, two bindings of one screen or widget (or of it and the app) would share.

    Textual lets the remapped binding win silently; a person should hear about the one that lost its key.
    """
    global_bindings = _bindings(PixelProbeApp)
    out: set[str] = set()
    for cls in _binding_classes():
        scope = _bindings(cls) + ([] if cls is PixelProbeApp else global_bindings)
        by_key: dict[str, set[str]] = {}
        for b in scope:
            keys = keymap.get(b.id, b.key) if b.id else b.key
            for key in keys.split(","):
                by_key.setdefault(key.strip(), set()).add(b.id or b.action)
        for key, ids in by_key.items():
            if len(ids) > 1 and any(i in keymap for i in ids):
                out.add(f"{key}: " + " / ".join(sorted(ids)))
    return sorted(out)


class PixelProbeApp(App[None]):
    """The TUI over one (already upgraded) database."""

    TITLE = "PixelProbe"
    CSS_PATH = "app.tcss"
    MODES: ClassVar[dict[str, type[Screen]]] = {  # type: ignore[assignment]
        "dashboard": DashboardScreen,
        "results": ResultsScreen,
        "reports": ReportsScreen,
        "logs": LogsScreen,
        "settings": SettingsScreen,
        "schedules": SchedulesScreen,
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(key, f"switch_mode('{mode}')", label, show=False, id=f"mode.{mode}")
            for mode, label, key in MODE_TABS
        ),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+t", "toggle_theme", "Light/dark", show=False, id="app.toggle_theme"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        db: Database,
        *,
        remote: bool = False,
        poll_interval: float | None = None,
        keymap: Mapping[str, str] | None = None,
        keymap_hint: str = 'put `"binding.id" = "key"` lines under [keymap] in keymap.toml '
        "(in the pixelprobe config directory, or the file named by $PIXELPROBE_KEYMAP)",
    ) -> None:
        super().__init__()
        self.db = db
        self.remote = remote
        self.keymap_hint = keymap_hint
        # Over SSH the live panels poll less often: each repaint crosses the network.
        self.poll_interval = poll_interval if poll_interval is not None else (1.0 if remote else 0.5)
        if remote:
            self.animation_level = "none"
        self._initial_keymap = dict(keymap or {})
        self._too_small: TooSmallScreen | None = None
        self._scan_worker: Worker[object] | None = None
        self._scan_service: ScanService | None = None
        self.last_scan_update: ScanUpdate | None = None
        self._quitting = False  # the scan started here is being stopped, then the app exits
        self.theme = DARK_THEME
        self.sub_title = db.display_url

    # -- scans run by this process ----------------------------------------------------------------------------

    @property
    def scan_running_here(self) -> bool:
        """Whether this app started a scan that has not ended yet."""
        return self._scan_worker is not None and not self._scan_worker.is_finished

    def start_scan(
        self, paths: Sequence[str], *, deep: bool, force: bool, files: Sequence[str] | None = None
    ) -> None:
        """Run a scan in a thread worker (of ``paths``, or exactly ``files`` again); progress reaches the
        screens through ScanState and the bridge."""
        from pixelprobe_tui.services.scan import ScanService

        bridge = ScanBridge(self, interval=self.poll_interval)

        def run() -> object:
            # Built in the thread: the service reads the configuration from the database.
            service = ScanService(self.db, sink=bridge)
            self._scan_service = service
            try:
                if files is not None:
                    return service.start(files=list(files), deep=deep)
                return service.start(list(paths), deep=deep, force=force)
            finally:
                self._scan_service = None

        self._scan_worker = self.run_worker(run, name="scan", group="scan", thread=True, exit_on_error=False)

    def cancel_scan(self, scan_id: str | None) -> None:
        """Stop this app's scan at once, or ask the process running ``scan_id`` to stop."""
        service = self._scan_service
        if service is not None:
            service.request_cancel()
            return
        if scan_id is not None:
            from pixelprobe_tui.services.scan_lock import request_cancel

            self.run_worker(lambda: request_cancel(self.db, scan_id), thread=True, exit_on_error=False)

    def on_scan_update(self, message: ScanUpdate) -> None:
        self.last_scan_update = message
        if message.finished is not None:
            # The screen on show reads the new verdicts now rather than at its next poll.
            refresh = getattr(self.screen, "action_refresh", None)
            if refresh is not None:
                refresh()
            f = message.finished
            severity = "error" if f.corrupted else ("warning" if f.warning or f.unreadable else "information")
            self.notify(
                scan_summary_line(f),
                title=f"Scan {f.status}",
                severity=severity,  # type: ignore[arg-type]
                timeout=10,
            )

    async def action_quit(self) -> None:
        """Quit; while a scan started here runs, ask first, then stop it and quit when it has stopped (the
        process would otherwise wait, on a blank screen, for the whole scan to end)."""
        if not self.scan_running_here:
            self.exit()
            return
        if self._quitting:
            return
        from pixelprobe_tui.tui.widgets.confirm import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes and self.scan_running_here:
                self._quitting = True
                self.notify("Stopping the scan, then quitting…", timeout=30)
                self._stop_scan_for_quit()
            elif yes:
                self.exit()

        self.push_screen(
            ConfirmDialog(
                "Quit",
                "A scan is running in this window. Stop it and quit? The files checked so far keep their "
                "verdicts.",
                confirm_label="Stop and quit",
            ),
            callback=answered,
        )

    def _stop_scan_for_quit(self) -> None:
        # Asked again until the scan ends: a scan still starting up may clear a request that came too early.
        if not self.scan_running_here:
            self.exit()
            return
        self.cancel_scan(None)
        self.set_timer(0.5, self._stop_scan_for_quit)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if self._quitting and event.worker.group == "scan" and event.worker.is_finished:
            self.exit()
        if event.worker.group == "scan" and event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                str(error).splitlines()[0] if error else "scan failed",
                title="Scan failed",
                severity="error",
                timeout=10,
            )

    def on_mount(self) -> None:
        if self._initial_keymap:
            self.set_keymap(self._initial_keymap)
            unknown = sorted(set(self._initial_keymap) - known_binding_ids())
            if unknown:
                self.notify(
                    "Unknown binding id"
                    + ("s" if len(unknown) > 1 else "")
                    + " in the key map: "
                    + ", ".join(unknown)
                    + " (? lists the ids)",
                    severity="warning",
                    timeout=15,
                )
            for clash in keymap_clashes(self._initial_keymap):
                self.notify(
                    f"Key map clash on {clash}: only one of them works", severity="warning", timeout=15
                )
        self._check_size(self.size.width, self.size.height)

    # -- size guard -----------------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if small and self._too_small is None:
            self._too_small = TooSmallScreen()
            self.push_screen(self._too_small)
        elif small and self._too_small is not None:
            self._too_small.update_size(width, height)
        elif not small and self._too_small is not None:
            screen, self._too_small = self._too_small, None
            if screen.is_current:
                self.pop_screen()

    # -- actions --------------------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show every key of the app with what it does, grouped by screen (this one first), with binding ids."""
        if isinstance(self.screen, HelpScreen):
            return
        pairs: list[tuple[Binding, list[str]]] = []
        for cls in [PixelProbeApp, *(c for c in _binding_classes() if c is not PixelProbeApp)]:
            for binding in _bindings(cls):
                keys = self._initial_keymap.get(binding.id, binding.key) if binding.id else binding.key
                shown = [self.get_key_display(replace(binding, key=k.strip())) for k in keys.split(",")]
                pairs.append((binding, shown))
        here = self._help_section()
        self.push_screen(HelpScreen(help_sections(pairs, here), self.keymap_hint, here))

    def _help_section(self) -> str | None:
        """The help section of the screen on show: the one its own keys belong to."""
        for binding in _bindings(type(self.screen)):
            if binding.id:
                return section_of(binding.id)
        return None

    def action_toggle_theme(self) -> None:
        """Switch between the light and the dark theme."""
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own "Keys" (its key panel, with the footer's short labels) would sit next to ours.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Keys")
        for mode, label, _key in MODE_TABS:
            yield SystemCommand(f"Go to {label}", f"Switch to the {label} screen", self._switcher(mode))
        yield SystemCommand(
            "Light/dark theme", "Toggle between the light and the dark theme", self.action_toggle_theme
        )
        yield SystemCommand(
            "Keys", "Every key with what it does, grouped by screen, and its binding id", self.action_help
        )
        yield from self._screen_commands(screen)

    def _screen_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """What the keys of ``screen`` do, as commands (those it offers now), found by what they do."""
        for binding in _bindings(type(screen)):
            if not binding.id or binding.action.startswith("app."):
                continue
            _target, name, params = parse_action(binding.action)
            if screen.check_action(name, params) is False:
                continue
            key = self.get_key_display(replace(binding, key=binding.key.split(",")[0]))
            yield SystemCommand(
                describe(binding.id, binding.description).rstrip("."),
                f"key {key} · {binding.id}",
                partial(screen.run_action, binding.action),
            )

    def _switcher(self, mode: str):  # type: ignore[no-untyped-def]
        def switch() -> None:
            self.switch_mode(mode)

        return switch
