"""Widgets of the PixelProbe TUI."""
