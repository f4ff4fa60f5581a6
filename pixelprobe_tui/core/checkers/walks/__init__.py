"""Cheap structural walks, one module per container format; :mod:`..structure` dispatches to them.

Each module exposes ``walk(r: Reader, out: Notes, ctx: WalkContext) -> None``: it reads headers through the
reader (seeking past payloads), and records evidence in ``out``.
"""
