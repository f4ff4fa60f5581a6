import subprocess
import sys

from pixelprobe_tui import __version__


def test_version_in_subprocess():
    out = subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"pixelprobe {__version__}"


def test_help_lists_database_url():
    out = subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "--help"], capture_output=True, text=True, check=True
    )
    assert "--database-url" in out.stdout
