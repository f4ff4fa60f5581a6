"""PixelProbe TUI: find corrupted media from the terminal."""

__version__ = "0.1.0"
