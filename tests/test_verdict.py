from pixelprobe_tui.core.verdict import (
    CheckResult,
    Finding,
    IgnoreRules,
    Severity,
    Verdict,
    decide,
    make_result,
)


def f(sev, msg="m", code="c"):
    return Finding(sev, code, "tool", msg)


def test_decide_ranks_findings():
    assert decide([]) is Verdict.HEALTHY
    assert decide([f(Severity.INFO)]) is Verdict.HEALTHY
    assert decide([f(Severity.WARNING)]) is Verdict.WARNING
    assert decide([f(Severity.WARNING), f(Severity.CORRUPT)]) is Verdict.CORRUPTED
    assert decide([f(Severity.CORRUPT), f(Severity.UNREADABLE)]) is Verdict.UNREADABLE
    assert decide([f(Severity.WARNING), f(Severity.UNSUPPORTED)]) is Verdict.UNSUPPORTED


def test_ignore_rules_keep_finding_but_drop_it_from_verdict():
    r = make_result("/x.mp4", [f(Severity.CORRUPT, "Invalid NAL unit size"), f(Severity.WARNING, "odd")])
    assert r.verdict is Verdict.CORRUPTED
    r2 = IgnoreRules(["invalid nal"]).apply(r)
    assert r2.verdict is Verdict.WARNING
    assert [x.ignored for x in r2.findings] == [True, False]
    r3 = IgnoreRules(["re:^odd$"]).apply(r2)
    assert r3.verdict is Verdict.HEALTHY


def test_ignore_rules_never_hide_unreadable():
    r = make_result("/x", [f(Severity.UNREADABLE, "Permission denied")])
    assert IgnoreRules(["permission"]).apply(r).verdict is Verdict.UNREADABLE


def test_result_round_trips_through_dict():
    r = make_result(
        "/x",
        [Finding(Severity.CORRUPT, "truncated", "structure:mp4", "short", 1.5, 3)],
        family="video",
        tool_versions={"pyav": "14"},
    )
    assert CheckResult.from_dict(r.to_dict()) == r
