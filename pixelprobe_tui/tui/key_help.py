"""What every key does, in full, for the help screen: one sentence per binding id, grouped by the screen where
the key works. The footer's short labels name a key; these say what it does and to which files."""

from __future__ import annotations

# (section title, binding id prefixes), in the order the help shows them after the current screen's section.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Everywhere", ("mode.", "app.")),
    ("Dashboard", ("dashboard.",)),
    ("Start a scan (dialog)", ("scan_dialog.",)),
    ("Results", ("results.", "grid.")),
    ("File details", ("details.",)),
    ("Reports", ("reports.",)),
    ("Logs", ("logs.",)),
    ("Settings", ("settings.",)),
    ("Schedules", ("schedules.",)),
    ("Schedule form", ("schedule_form.",)),
    ("Orphan cleanup (dialog)", ("cleanup_confirm.",)),
    ("Questions (yes/no dialogs)", ("confirm.",)),
    ("This help", ("help.",)),
    ("Terminal too small", ("too_small.",)),
)

DESCRIPTIONS: dict[str, str] = {
    # Everywhere
    "mode.dashboard": "Go to the Dashboard: totals, the running scan, the last scans.",
    "mode.results": "Go to the Results: every file with its verdict, to filter, select and act on.",
    "mode.reports": "Go to the Reports: the history of scan runs and what each one found.",
    "mode.logs": "Go to the Logs: the application log, filtered by level, scan or text.",
    "mode.settings": "Go to the Settings: scan settings, exclusions, ignored error patterns.",
    "mode.schedules": "Go to the Schedules: timed scans, orphan cleanup, file-change checks.",
    "app.help": "Show this list of keys.",
    "app.toggle_theme": "Switch between the dark and the light theme.",
    "app.quit": "Quit PixelProbe (while a scan started here runs, asks first and stops it).",
    # Dashboard
    "dashboard.start_scan": "Start a scan: choose the directories, deep scan and force, then Start.",
    "dashboard.cancel_scan": "Cancel the running scan (also one running in another process).",
    "dashboard.show_problems": "Open the Results showing the problem files (warning, corrupted, unreadable).",
    "dashboard.show_corrupted": "Open the Results showing only the corrupted files.",
    "dashboard.show_warning": "Open the Results showing only the files with warnings.",
    "dashboard.show_unreadable": "Open the Results showing only the files that could not be read.",
    "dashboard.show_bitrot": "Open the Results showing the files suspected of bitrot.",
    "dashboard.refresh": "Read the totals, the running scan and the last scans again now.",
    # Scan dialog
    "scan_dialog.start": "Start the scan with the paths and options entered (Enter in the path field too).",
    "scan_dialog.cancel": "Close the dialog without starting a scan.",
    # Results (screen)
    "results.mark_good": "Mark the selected files (or the one under the cursor) good; the verdict stays.",
    "results.unmark_good": "Clear the good mark of the selected files (or the one under the cursor).",
    "results.copy_path": "Copy the paths of the selected files (or the one under the cursor).",
    "results.rescan": "Check the selected files (or the one under the cursor) again now.",
    "results.deep_scan": "Check the selected files (or the one under the cursor) again, deep (strict checks).",
    "results.export_json": "Export the selected files (or the one under the cursor) as JSON, to the current directory.",
    "results.export_csv": "Export the selected files (or the one under the cursor) as CSV, to the current directory.",
    "results.sort": "Sort by the next column: path, status, scan date, size.",
    "results.reverse_sort": "Reverse the sort order.",
    "results.marked_filter": "Filter by the good mark: any, not marked, marked good (each press the next).",
    "results.search": "Search the paths: type a part of a path (Enter goes back to the list).",
    "results.focus_grid": "Leave the search or filter field and go back to the list.",
    "results.refresh": "Read the rows again (new results of a scan appear by themselves).",
    # Results (the grid)
    "grid.up": "Move the cursor one row up.",
    "grid.down": "Move the cursor one row down.",
    "grid.page_up": "Move the cursor one page up.",
    "grid.page_down": "Move the cursor one page down.",
    "grid.first": "Go to the first row.",
    "grid.last": "Go to the last row.",
    "grid.toggle_select": "Select or unselect the row under the cursor, and go to the next row.",
    "grid.extend_down": "Extend the selection one row down.",
    "grid.extend_up": "Extend the selection one row up.",
    "grid.extend_page_down": "Extend the selection one page down.",
    "grid.extend_page_up": "Extend the selection one page up.",
    "grid.extend_last": "Extend the selection to the last row.",
    "grid.extend_first": "Extend the selection to the first row.",
    "grid.select_all": "Select every file the filters match (space then leaves single rows out).",
    "grid.clear_selection": "Clear the selection: nothing is selected.",
    "grid.open": "Open the details of the file under the cursor: findings, history, media info.",
    # File details
    "details.back": "Close the details and go back to the list.",
    "details.mark_good": "Mark this file good (its verdict stays; the mark lapses if the content changes).",
    "details.unmark_good": "Clear this file's good mark.",
    "details.copy_path": "Copy this file's path.",
    "details.rescan": "Check this file again now.",
    "details.deep_scan": "Check this file again with the deep (strict) checks.",
    # Reports
    "reports.export_json": "Write the report history to a JSON file in the current directory.",
    "reports.export_csv": "Write the report history to a CSV file in the current directory.",
    "reports.refresh": "Read the reports again.",
    # Logs
    "logs.follow": "Follow the log: new lines appear at the bottom as they are written (again: stop).",
    "logs.level": "Choose the lowest level shown: that level and the more serious ones.",
    "logs.scan": "Show only the lines of one scan.",
    "logs.search": "Search the messages: type a part of a message.",
    "logs.focus_log": "Leave the search or a filter and go back to the log.",
    "logs.save_settings": "Save the log settings at the bottom (days kept, excluded loggers).",
    "logs.refresh": "Read the log again.",
    # Settings
    "settings.save": "Save the changed settings (each is checked first; a bad value is named).",
    "settings.delete": "Delete the exclusion or ignored-error pattern under the cursor.",
    "settings.toggle_pattern": "Turn the ignored-error pattern under the cursor on or off.",
    "settings.leave_field": "Leave the field being edited, so that 1-6 switch screens and q quits again.",
    "settings.refresh": "Read the settings and rules again from the database.",
    # Schedules
    "schedules.new": "Add a schedule: a name, what to run, when (cron or 'every 6h'), which paths.",
    "schedules.run_now": "Run the selected schedule now, whatever its time.",
    "schedules.edit": "Edit the selected schedule.",
    "schedules.toggle": "Turn the selected schedule on or off.",
    "schedules.delete": "Delete the selected schedule (asks first).",
    "schedules.cleanup": "Find the records of files that are gone; then delete or mark them (asks first).",
    "schedules.file_changes": "Hash the recorded files again: find changed, missing and bitrot files.",
    "schedules.cancel_maintenance": "Stop the cleanup or file-change check that is running.",
    "schedules.refresh": "Read the schedules again.",
    # Schedule form
    "schedule_form.save": "Save the schedule (its fields are checked first).",
    "schedule_form.cancel": "Close the form without saving.",
    # Orphan cleanup
    "cleanup_confirm.delete": "Delete the records of the files that are gone.",
    "cleanup_confirm.mark": "Keep those records, only mark their files missing.",
    "cleanup_confirm.cancel": "Close without deleting or marking anything.",
    # Questions
    "confirm.yes": "Answer yes to the question asked.",
    "confirm.no": "Answer no: nothing is done.",
    # Help
    "help.close": "Close this help.",
    # Terminal too small
    "too_small.quit": "Quit PixelProbe (the terminal is too small to show it).",
}


def section_of(binding_id: str) -> str:
    """The title of the section a binding id belongs to ("Other" for an id no section claims)."""
    for title, prefixes in SECTIONS:
        if binding_id.startswith(prefixes):
            return title
    return "Other"


def describe(binding_id: str, fallback: str) -> str:
    """The full description of a binding id (``fallback``, its short label, when it has none)."""
    return DESCRIPTIONS.get(binding_id, fallback)
