"""Screens of the PixelProbe TUI: one per mode, plus details, help and dialogs."""
