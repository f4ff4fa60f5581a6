"""The in-process check dispatcher: one file in, one :class:`CheckResult` out.

Order of work, cheapest first:

1. ``stat``: a missing file, a permission problem, a directory, FIFO or device named like media is
   *unreadable* at once (never opened, so a FIFO cannot block us); a zero-byte file is *corrupted*.
2. :func:`pixelprobe_tui.core.media.sniff` reads the magic bytes: the content decides the route, the
   extension only raises a mismatch warning.
3. ``structure.check`` walks the container (boxes, chunks, frames) in milliseconds. In quick mode, when it
   already proves corruption, the slow decode is skipped: truncation is found without decoding a frame.
   Deep mode always decodes, for the full list of findings and where they are.
4. media info (pymediainfo) gives the duration early, so the isolation layer can extend its timeout.
5. the decoder for the content: ``av`` (audio/video, plus ``flac`` for FLAC) or ``image``.
6. findings are merged (identical ones from two passes kept once), the decisive tool named, and the
   caller's ignore rules applied last.

No exception escapes: a checker that raises gives a finding (unreadable for ``OSError``, corrupt for
anything else on a file that exists).
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import resource
import stat as stat_mod
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from types import ModuleType
from typing import Any

from pixelprobe_tui.core.verdict import (
    CheckOptions,
    CheckResult,
    Finding,
    IgnoreRules,
    Severity,
    Verdict,
    make_result,
)

TOOL = "pixelprobe"
# Families whose content a decoder exists for.
_AV_FAMILIES = {"video", "audio"}
# Which finding decides, worst last (the same order as the verdict rules in core.verdict).
_ORDER = [Severity.INFO, Severity.WARNING, Severity.UNSUPPORTED, Severity.CORRUPT, Severity.UNREADABLE]


def _load(name: str) -> ModuleType | None:
    """A checker module of this package, or None if it is not part of this installation."""
    full = f"{__name__}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise


def memory_cap_finding() -> Finding:
    """The finding for a check that ran out of memory (the child's address-space cap, when set).

    Unsupported rather than corrupt: a valid 8K frame or a huge PNG can need more memory than the cap, so
    the honest statement is that this file could not be checked within the limits.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    cap = f"{soft // 1048576} MB" if soft != resource.RLIM_INFINITY else "available memory"
    return Finding(Severity.UNSUPPORTED, "memory_cap", TOOL, f"check exceeded memory cap ({cap})")


def _os_error_finding(exc: OSError, what: str) -> Finding:
    name = errno.errorcode.get(exc.errno or 0, "") if exc.errno else ""
    reason = exc.strerror or str(exc)
    # The same codes as core.media.UnreadableError.
    code = {
        errno.ENOENT: "vanished",
        errno.EACCES: "permission_denied",
        errno.EPERM: "permission_denied",
    }.get(exc.errno or 0, "io_error")
    label = f"{reason} ({name})" if name else reason
    return Finding(Severity.UNREADABLE, code, TOOL, f"{what}: {label}")


def _exception_finding(exc: BaseException, tool: str) -> Finding:
    if isinstance(exc, OSError):
        return _os_error_finding(exc, f"{tool} could not read the file")
    text = str(exc).strip() or "no message"
    return Finding(Severity.CORRUPT, "checker_raised", tool, f"checker raised {type(exc).__name__}: {text}")


def _run(module: ModuleType, path: str, options: CheckOptions, tool: str, **extra: Any) -> CheckResult:
    """``module.check`` with exceptions turned into findings (``extra``: keyword arguments it takes)."""
    try:
        return module.check(path, options, **extra)
    except MemoryError:
        return make_result(path, [memory_cap_finding()])
    except Exception as exc:  # a file-level problem must stay a file-level result
        return make_result(path, [_exception_finding(exc, tool)])


def _merge(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Findings in order, identical ones (same severity, code, tool, message, time) kept once."""
    seen: dict[tuple[Any, ...], int] = {}
    out: list[Finding] = []
    for f in findings:
        key = (f.severity, f.code, f.tool, f.message, f.at_seconds)
        if key in seen:
            i = seen[key]
            out[i] = replace(out[i], count=max(out[i].count, f.count))
            continue
        seen[key] = len(out)
        out.append(f)
    return tuple(out)


def _worst(findings: Iterable[Finding]) -> Finding | None:
    best: Finding | None = None
    for f in findings:
        if f.ignored or f.severity == Severity.INFO:
            continue
        if best is None or _ORDER.index(f.severity) > _ORDER.index(best.severity):
            best = f
    return best


def _versions_by_tool(results: Iterable[CheckResult]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for r in results:
        versions.update(r.tool_versions)
    return versions


def _decisive_tool(
    findings: tuple[Finding, ...], parts: list[CheckResult], decoder: CheckResult | None
) -> str | None:
    """The checker whose finding decided the verdict (with version); for a clean file, the decoder."""
    worst = _worst(findings)
    if worst is None:
        if decoder is not None:
            return decoder.decisive_tool
        return next((p.decisive_tool for p in parts if p.decisive_tool), None)
    for part in parts:
        if worst in part.findings and part.decisive_tool:
            return part.decisive_tool
    versions = _versions_by_tool(parts)
    base = worst.tool.split(":", 1)[0]
    version = versions.get(worst.tool) or versions.get(base)
    return f"{worst.tool} {version}" if version else worst.tool


def _stat_result(path: str) -> tuple[os.stat_result | None, CheckResult | None]:
    """The file's stat, or the final result when the file cannot or must not be opened."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return None, make_result(path, [_os_error_finding(exc, "cannot stat the file")], decisive_tool=TOOL)
    except ValueError as exc:  # embedded NUL in the name
        finding = Finding(Severity.UNREADABLE, "bad_name", TOOL, f"invalid file name: {exc}")
        return None, make_result(path, [finding], decisive_tool=TOOL)
    if not stat_mod.S_ISREG(st.st_mode):
        kind = (
            "a directory"
            if stat_mod.S_ISDIR(st.st_mode)
            else "a FIFO"
            if stat_mod.S_ISFIFO(st.st_mode)
            else "a device"
            if stat_mod.S_ISCHR(st.st_mode) or stat_mod.S_ISBLK(st.st_mode)
            else "a socket"
            if stat_mod.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        finding = Finding(Severity.UNREADABLE, "not_a_file", TOOL, f"not a regular file: {kind}")
        return st, make_result(path, [finding], decisive_tool=TOOL, file_size=None)
    if st.st_size == 0:
        finding = Finding(Severity.CORRUPT, "empty", TOOL, "empty file (0 bytes)")
        return st, make_result(path, [finding], decisive_tool=TOOL, file_size=0)
    return st, None


def check(
    path: str,
    options: CheckOptions | None = None,
    ignore: IgnoreRules | None = None,
    *,
    on_size: Callable[[int], None] | None = None,
    on_duration: Callable[[float], None] | None = None,
) -> CheckResult:
    """Check one file in this process and return its result. Never raises for a file-level problem.

    ``on_size`` and ``on_duration`` are called as soon as the file size and the media duration are known
    (the isolation layer uses them to scale the check's timeout).
    """
    options = options or CheckOptions()
    started = time.perf_counter()
    result = _check(path, options, on_size, on_duration)
    result = replace(result, duration_s=time.perf_counter() - started)
    return ignore.apply(result) if ignore else result


def process_spent() -> bool:
    """Whether a library in this process can no longer report some damage (FFmpeg prints a few messages
    once per process): a long-lived checker process should be replaced after its current answer."""
    av_checker = sys.modules.get(f"{__name__}.av")
    return av_checker is not None and av_checker.once_messages_spent()


def _check(
    path: str,
    options: CheckOptions,
    on_size: Callable[[int], None] | None,
    on_duration: Callable[[float], None] | None,
) -> CheckResult:
    from pixelprobe_tui.core import media

    st, early = _stat_result(path)
    if st is not None and on_size is not None:
        on_size(st.st_size)
    if early is not None:
        return early
    assert st is not None
    size = st.st_size

    try:
        sniffed = media.sniff(path)
    except media.UnreadableError as exc:
        finding = Finding(Severity.UNREADABLE, exc.code, TOOL, exc.reason)
        return make_result(path, [finding], decisive_tool=TOOL, file_size=size)
    except OSError as exc:
        finding = _os_error_finding(exc, "cannot read the file")
        return make_result(path, [finding], decisive_tool=TOOL, file_size=size)
    family = str(sniffed.family)
    container = sniffed.container
    findings: list[Finding] = []
    if sniffed.mismatch:
        message = f"content is {sniffed.describe_content()} but the name says .{sniffed.extension}"
        findings.append(Finding(Severity.WARNING, "extension_mismatch", TOOL, message))

    parts: list[CheckResult] = []
    structure = _load("structure")
    if structure is not None:
        parts.append(_run(structure, path, options, "structure", sniff=sniffed))
        family, container = _refine(family, container, parts[-1])

    proven = _worst(f for p in parts for f in p.findings)
    walk_proved_damage = proven is not None and proven.severity in (Severity.CORRUPT, Severity.UNREADABLE)

    info: dict[str, Any] | None = None

    def describe() -> None:
        """libmediainfo's summary (bounded: damaged data is where it can spin forever)."""
        nonlocal info
        from pixelprobe_tui.core.checkers import mediainfo

        info, finished = mediainfo.bounded_media_info(
            path, size, known=not sniffed.unknown_content, container=sniffed.container
        )
        if not finished:
            findings.append(
                Finding(
                    Severity.INFO,
                    "media_info_timeout",
                    "mediainfo",
                    f"no media info: libmediainfo did not finish within {mediainfo.budget_for(size):.0f} s",
                )
            )
        media_seconds = mediainfo.duration_of(info)
        if media_seconds and on_duration is not None:
            on_duration(media_seconds)

    # Not on a file a cheap walk already proved damaged: damaged data is where libmediainfo can spin
    # forever (H4-10: a 4.6 KB cut Matroska file, in one C call, by name and buffered alike), and the
    # walk's findings say what is wrong with it. Valid files are never proved damaged, so they keep
    # their description. A/V files are described before the decode (its timeout scales with their
    # duration); images after it, and only when the decode found no damage (libmediainfo spun for
    # minutes on HEIF boxes that only the image decoder proves damaged).
    wants_info = not walk_proved_damage and (
        options.want_media_info or (on_duration is not None and family in _AV_FAMILIES)
    )
    describe_after_decode = family == "image"
    if wants_info and not describe_after_decode:
        describe()

    # Quick mode: a cheap walk that already proves damage (or an unreadable file) makes decoding moot.
    skip_decode = not options.deep and walk_proved_damage
    decoder: CheckResult | None = None
    name = _decoder_for(family)
    module = _load(name) if name and not skip_decode else None
    if module is not None and name is not None:
        # The A/V checker takes the sniff (it probes PCM containers with a small probe).
        extra = {"sniff": sniffed} if name == "av" else {}
        decoder = _run(module, path, options, name, **extra)
        parts.append(decoder)
        family, container = _refine(family, container, decoder)

    if (
        wants_info
        and describe_after_decode
        and not (decoder is not None and decoder.verdict in (Verdict.CORRUPTED, Verdict.UNREADABLE))
    ):
        describe()

    content_hash = next((p.content_hash for p in parts if p.content_hash), None)
    if options.want_hash and content_hash is None:
        # After the decode, so the bytes usually come from the page cache rather than the disk again.
        from pixelprobe_tui.core.hashing import hash_file

        try:
            content_hash = hash_file(path)
        except OSError as exc:
            findings.append(_os_error_finding(exc, "cannot hash the file"))

    all_findings = [*findings, *(f for p in parts for f in p.findings)]
    if not skip_decode:
        all_findings += _coverage_findings(sniffed, family, decoder, all_findings)
    merged = _merge(all_findings)
    return make_result(
        path,
        merged,
        family=family,
        container=container,
        decisive_tool=_decisive_tool(merged, parts, decoder),
        tool_versions=_versions_by_tool(parts),
        media_info=_media_info(info, decoder) if options.want_media_info else None,
        file_size=size,
        content_hash=content_hash,
    )


def _media_info(info: dict[str, Any] | None, decoder: CheckResult | None) -> dict[str, Any] | None:
    """libmediainfo's summary, with what the decoder saw (frames and packets per stream) under ``decoded``."""
    decoded = dict(decoder.media_info) if decoder is not None and decoder.media_info else None
    if info is None:
        return {"decoded": decoded} if decoded else None
    return {**info, "decoded": decoded} if decoded else info


def _coverage_findings(
    sniffed: Any, family: str, decoder: CheckResult | None, findings: list[Finding]
) -> list[Finding]:
    """What to say when no decoder vouched for the file and no checker found damage.

    A decoder's warnings do not vouch for content the sniffer could not place: on junk FFmpeg's probe
    only warns ("misdetection possible", "could not find codec parameters").
    """
    if decoder is not None and decoder.verdict == Verdict.HEALTHY:
        return []
    if any(f.severity in (Severity.CORRUPT, Severity.UNREADABLE) for f in findings):
        return []
    if sniffed.unknown_content and str(sniffed.ext_family) != "unknown":
        # The name promises media and the bytes are no media format we know: junk, zeros, text.
        message = f"the name says .{sniffed.extension} but the content is {sniffed.describe_content()}"
        return [Finding(Severity.CORRUPT, "not_media", TOOL, message)]
    if decoder is not None:
        return []
    if family == "unknown":
        return [Finding(Severity.UNSUPPORTED, "unsupported", TOOL, "content not recognised as media")]
    return [Finding(Severity.UNSUPPORTED, "unsupported", TOOL, f"no decoder available for {family} content")]


def _refine(family: str, container: str | None, part: CheckResult) -> tuple[str, str | None]:
    """Prefer what a checker learned from the content over the sniffed guess."""
    if part.family and part.family != "unknown":
        family = part.family
    return family, part.container or container


def _decoder_for(family: str) -> str | None:
    """The decoding checker for a family. FLAC goes to av too: it checks the STREAMINFO MD5 in the same
    decode pass (``flac.check`` is that same call)."""
    if family in _AV_FAMILIES:
        return "av"
    if family == "image":
        return "image"
    return None


def tool_versions() -> dict[str, str]:
    """Versions of every library the checkers use, for ``doctor`` and for the child's hello."""
    versions: dict[str, str] = {}
    try:
        import av

        versions["pyav"] = av.__version__
        versions["ffmpeg"] = getattr(av, "ffmpeg_version_info", "") or ""
    except ImportError:
        pass
    try:
        import PIL

        versions["pillow"] = PIL.__version__
    except ImportError:
        pass
    try:
        import pillow_heif

        versions["pillow-heif"] = pillow_heif.__version__
        versions["libheif"] = str(pillow_heif.libheif_version())
    except Exception:  # optional plugin: absent or broken means no HEIC support, reported by doctor
        pass
    from pixelprobe_tui.core.checkers import mediainfo

    mi = mediainfo.version()
    if mi:
        versions["mediainfo"] = mi
    for name in ("structure", "av", "flac", "image"):
        module = _load(name)
        extra = getattr(module, "tool_versions", None) if module is not None else None
        if callable(extra):
            # A version probe must not stop the checker from starting.
            with contextlib.suppress(Exception):
                versions.update(extra())
    return {k: v for k, v in versions.items() if v}


__all__ = ["check", "memory_cap_finding", "tool_versions"]
