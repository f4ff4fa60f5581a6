"""The checker contract: findings, verdicts and check results.

Every checker returns a :class:`CheckResult`. The verdict is never set by hand: it is derived from the
findings by :func:`decide`, the one place that turns evidence into a verdict, so ignored patterns and
severities behave the same on every code path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """The bucket a file lands in."""

    HEALTHY = "healthy"
    WARNING = "warning"
    CORRUPTED = "corrupted"
    UNREADABLE = "unreadable"
    UNSUPPORTED = "unsupported"


class Severity(StrEnum):
    """How much a finding weighs.

    ``info`` never changes a verdict; ``warning`` makes a healthy file a warning; ``corrupt`` is evidence of
    damage; ``unreadable`` means the file could not be read (I/O error, permission, vanished, stalled
    storage) and says nothing about its content; ``unsupported`` means no competent checker exists.
    """

    INFO = "info"
    WARNING = "warning"
    CORRUPT = "corrupt"
    UNREADABLE = "unreadable"
    UNSUPPORTED = "unsupported"


# Highest wins. An I/O failure outranks corruption evidence, because decoder errors after a failed read
# are artefacts of the read, not of the content.
_RANK: dict[Severity, int] = {
    Severity.INFO: 0,
    Severity.WARNING: 1,
    Severity.UNSUPPORTED: 2,
    Severity.CORRUPT: 3,
    Severity.UNREADABLE: 4,
}

_VERDICT_OF: dict[Severity, Verdict] = {
    Severity.INFO: Verdict.HEALTHY,
    Severity.WARNING: Verdict.WARNING,
    Severity.UNSUPPORTED: Verdict.UNSUPPORTED,
    Severity.CORRUPT: Verdict.CORRUPTED,
    Severity.UNREADABLE: Verdict.UNREADABLE,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of evidence about a file.

    ``code`` is a stable machine-readable identifier (``truncated``, ``decode_error``, ``png_crc`` ...),
    ``tool`` names what found it (``pyav``, ``pillow``, ``structure:mp4`` ...), ``at_seconds`` is the media
    time where it was seen when known, ``count`` how many times the same message was seen.
    """

    severity: Severity
    code: str
    tool: str
    message: str
    at_seconds: float | None = None
    count: int = 1
    ignored: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "severity": str(self.severity),
            "code": self.code,
            "tool": self.tool,
            "message": self.message,
        }
        if self.at_seconds is not None:
            d["at_seconds"] = round(self.at_seconds, 3)
        if self.count != 1:
            d["count"] = self.count
        if self.ignored:
            d["ignored"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        return cls(
            severity=Severity(d["severity"]),
            code=str(d["code"]),
            tool=str(d["tool"]),
            message=str(d["message"]),
            at_seconds=d.get("at_seconds"),
            count=int(d.get("count", 1)),
            ignored=bool(d.get("ignored", False)),
        )

    def describe(self) -> str:
        """One human line: ``[tool] message (at 12.3 s, x4)``."""
        extra = []
        if self.at_seconds is not None:
            extra.append(f"at {self.at_seconds:.2f} s")
        if self.count > 1:
            extra.append(f"x{self.count}")
        if self.ignored:
            extra.append("ignored")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"[{self.tool}] {self.message}{tail}"


def decide(findings: Iterable[Finding]) -> Verdict:
    """The verdict that a set of findings supports; ignored findings do not count."""
    worst = -1
    verdict = Verdict.HEALTHY
    for f in findings:
        if f.ignored:
            continue
        rank = _RANK[f.severity]
        if rank > worst:
            worst = rank
            verdict = _VERDICT_OF[f.severity]
    return verdict


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What a check may do. ``deep`` turns on the slower, more thorough passes (see docs in checkers)."""

    deep: bool = False
    # Pixel count above which an image is not decoded (decompression-bomb guard); reported as a warning.
    max_image_pixels: int = 250_000_000
    # Compute a content hash while reading (the checker reads the file anyway).
    want_hash: bool = False
    # Run pymediainfo and attach its summary.
    want_media_info: bool = True


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a checker concluded about one file. Build it with :func:`make_result`."""

    path: str
    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    family: str = "unknown"  # video | audio | image | unknown
    container: str | None = None  # detected format, e.g. "mp4", "png"
    decisive_tool: str | None = None  # names the checker that decided, with version: "pyav 14.0 (FFmpeg 7.1)"
    tool_versions: Mapping[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    media_info: Mapping[str, Any] | None = None
    file_size: int | None = None
    content_hash: str | None = None  # "xxh3_128:<hex>" when requested

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.ignored and f.severity != Severity.INFO)

    def summary(self, severities: Sequence[Severity]) -> str:
        """Newline-joined descriptions of the findings with the given severities."""
        return "\n".join(f.describe() for f in self.findings if f.severity in severities)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "verdict": str(self.verdict),
            "findings": [f.to_dict() for f in self.findings],
            "family": self.family,
            "container": self.container,
            "decisive_tool": self.decisive_tool,
            "tool_versions": dict(self.tool_versions),
            "duration_s": round(self.duration_s, 4),
            "media_info": dict(self.media_info) if self.media_info is not None else None,
            "file_size": self.file_size,
            "content_hash": self.content_hash,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckResult:
        findings = tuple(Finding.from_dict(f) for f in d.get("findings", ()))
        return cls(
            path=d["path"],
            verdict=Verdict(d["verdict"]),
            findings=findings,
            family=d.get("family", "unknown"),
            container=d.get("container"),
            decisive_tool=d.get("decisive_tool"),
            tool_versions=dict(d.get("tool_versions") or {}),
            duration_s=float(d.get("duration_s", 0.0)),
            media_info=d.get("media_info"),
            file_size=d.get("file_size"),
            content_hash=d.get("content_hash"),
        )


def make_result(path: str, findings: Iterable[Finding], **kwargs: Any) -> CheckResult:
    """Build a result whose verdict follows from its findings."""
    fs = tuple(findings)
    return CheckResult(path=path, verdict=decide(fs), findings=fs, **kwargs)


class IgnoreRules:
    """Compiled IgnoredErrorPattern rows.

    A pattern matches a finding's message or code case-insensitively as a substring; a pattern written
    ``re:...`` is a regular expression. Matching findings are kept, marked ignored, and stop counting.
    """

    def __init__(self, patterns: Iterable[str]):
        self.patterns: tuple[str, ...] = tuple(p for p in patterns if p and p.strip())
        self._compiled: list[re.Pattern[str]] = []
        for p in self.patterns:
            if p.startswith("re:"):
                try:
                    self._compiled.append(re.compile(p[3:], re.IGNORECASE))
                except re.error:
                    self._compiled.append(re.compile(re.escape(p[3:]), re.IGNORECASE))
            else:
                self._compiled.append(re.compile(re.escape(p.strip()), re.IGNORECASE))

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def matches(self, finding: Finding) -> bool:
        return any(rx.search(finding.message) or rx.search(finding.code) for rx in self._compiled)

    def apply(self, result: CheckResult) -> CheckResult:
        """The same result with matching findings marked ignored and the verdict derived again.

        Only evidence about content can be ignored; unreadable/unsupported findings always count.
        """
        if not self._compiled or not result.findings:
            return result
        findings = tuple(
            replace(f, ignored=True)
            if not f.ignored and f.severity in (Severity.WARNING, Severity.CORRUPT) and self.matches(f)
            else f
            for f in result.findings
        )
        return replace(result, findings=findings, verdict=decide(findings))
