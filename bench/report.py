"""The benchmark's table (with the targets of issue 5) and its JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness import Series

if TYPE_CHECKING:
    from archive_gen import BuiltArchive
    from run import Tool

# step key, label, unit, key of the limit to compare with
STEPS = [
    ("cold", "cold install (6 MB)", "s", "cold"),
    ("reinstall", "re-install (installed)", "s", None),
    ("second", "install, 2nd venv", "s", None),
    ("version", "version", "s", None),
    ("versions", "versions", "s", None),
    ("search_cold", "search, cold", "s", None),
    ("search_warm", "search, warm", "s", None),
    ("rss", "install peak RSS (6 MB)", "MB", "rss"),
    ("cold_large", "cold install (200 MB)", "s", "cold_large"),
    ("mbps", "throughput (6 MB)", "MB/s", "mbps"),
    ("mbps_large", "throughput (200 MB)", "MB/s", "mbps_large"),
    ("rss_large", "install peak RSS (200 MB)", "MB", "rss_large"),
]
LIMIT_ONLY = [
    ("download", "download only, curl -o (6 MB)"),
    ("download_large", "download only, curl -o (200 MB)"),
]

Check = Callable[[dict[str, Series], float | None, float | None], tuple[str, bool | None]]


def _med(s: Series | None) -> float | None:
    return s.median if s is not None else None


def _abs(key: str, limit: float, text: str) -> Check:
    def check(x: dict[str, Series], pb: float | None, lim: float | None) -> tuple[str, bool | None]:
        m = _med(x.get(key))
        return text, None if m is None else m <= limit

    return check


def _ratio_pb(key: str, factor: float) -> Check:
    def check(x: dict[str, Series], pb: float | None, lim: float | None) -> tuple[str, bool | None]:
        m = _med(x.get(key))
        return f"<= {factor:g}x pb", None if m is None or not pb else m <= factor * pb

    return check


def _ratio_limit(key: str, factor: float) -> Check:
    def check(x: dict[str, Series], pb: float | None, lim: float | None) -> tuple[str, bool | None]:
        m = _med(x.get(key))
        return f"<= {factor:g}x curl|tar", None if m is None or not lim else m <= factor * lim

    return check


def _scaling(x: dict[str, Series], pb: float | None, lim: float | None) -> tuple[str, bool | None]:
    small, large = _med(x.get("mbps")), _med(x.get("mbps_large"))
    ok = None if not small or not large else abs(large / small - 1) <= 0.15
    return "within 15% of 6 MB", ok


def _rss_scaling(
    x: dict[str, Series], pb: float | None, lim: float | None
) -> tuple[str, bool | None]:
    small, large = _med(x.get("rss")), _med(x.get("rss_large"))
    return "within 20 MB of 6 MB", None if small is None or large is None else abs(
        large - small
    ) <= 20


TARGETS: dict[str, list[Check]] = {
    "cold": [_ratio_limit("cold", 1.15), _ratio_pb("cold", 0.5)],
    "reinstall": [_abs("reinstall", 0.15, "<= 150 ms")],
    "second": [_abs("second", 0.3, "<= 300 ms"), _ratio_pb("second", 0.1)],
    "version": [_abs("version", 0.08, "<= 80 ms"), _ratio_pb("version", 0.15)],
    "versions": [_abs("versions", 0.08, "<= 80 ms"), _ratio_pb("versions", 0.15)],
    "search_warm": [_abs("search_warm", 0.15, "<= 150 ms")],
    "rss": [_abs("rss", 80, "<= 80 MB")],
    "mbps_large": [_scaling],
    "rss_large": [_rss_scaling],
}


def _throughput(
    results: dict[str, Series], archives: dict[tuple[str, str], BuiltArchive], python: str
) -> None:
    for kind, suffix in (("small", ""), ("large", "_large")):
        times = results.get("cold" + suffix)
        built = archives.get((python, kind))
        if times and times.samples and built:
            results["mbps" + suffix] = Series("MB/s", [built.size / 1e6 / t for t in times.samples])


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def build(
    tools: list[Tool],
    pb: Tool | None,
    limit: dict[str, Series],
    archives: dict[tuple[str, str], BuiltArchive],
    limit_python: str,
    info: dict[str, Any],
    notes: list[str],
) -> tuple[str, dict[str, Any]]:
    for t in tools + ([pb] if pb else []):
        _throughput(t.results, archives, t.python.short)
    _throughput(limit, archives, limit_python)
    # The same-interpreter side-by-side first.
    tools = sorted(tools, key=lambda t: pb is None or t.python.short != pb.python.short)
    headers = [
        "step",
        "xbuildenv median (min-max)",
        "pyodide-build",
        "limit",
        "x/pb",
        "x/limit",
        "targets",
    ]
    rows: list[list[str]] = []
    verdicts: list[dict[str, Any]] = []
    for key, label, _unit, limit_key in STEPS:
        pb_series = pb.results.get(key) if pb else None
        lim = limit.get(limit_key) if limit_key else None
        for t in tools:
            x = t.results.get(key)
            if x is None and pb_series is None:
                continue
            checks = []
            for check in TARGETS.get(key, []):
                text, ok = check(t.results, _med(pb_series), _med(lim))
                checks.append(f"{text}: {'n/a' if ok is None else 'PASS' if ok else 'FAIL'}")
                verdicts.append({"step": key, "python": t.python.short, "target": text, "pass": ok})
            rows.append(
                [
                    f"{label} [{t.python.tag}]",
                    x.fmt() if x else "-",
                    pb_series.fmt(False) if pb_series else "-",
                    lim.fmt(False) if lim else "-",
                    _ratio(_med(x), _med(pb_series)),
                    _ratio(_med(x), _med(lim)),
                    "; ".join(checks),
                ]
            )
    for key, label in LIMIT_ONLY:
        if key in limit:
            rows.append([label, "-", "-", limit[key].fmt(False), "-", "-", ""])
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    arch = info["archives"]
    legend = [
        "",
        f"Server: 127.0.0.1, {info['rate_mb_s']:g} MB/s per response, "
        f"{info['latency_ms']:g} ms per request; {info['runs']} runs per step "
        f"(200 MB: {info['large_runs']}); medians, min-max in brackets.",
        "Archives: "
        + "; ".join(
            f"{k}: {a['bytes'] / 1e6:.1f} MB .tar.bz2, {a['entries']} entries, "
            f"{a['unpacked'] / 1e6:.1f} MB unpacked"
            for k, a in arch.items()
        ),
        f"pyodide-build: {pb.label if pb else 'not run'} (0.39.2); limit: curl | tar xj "
        f"on the py{limit_python} archive. x/pb compares with pyodide-build on its own "
        "interpreter: the row with the same [pyX.Y] is the like-for-like side-by-side; "
        "other rows show xbuildenv under other interpreters.",
        "Each CLI call is the venv's console script in a clean environment (fresh HOME and "
        "XDG_CACHE_HOME per run; the 2nd venv shares the first one's XDG_CACHE_HOME).",
    ]
    out += legend + [f"note: {n}" for n in notes]
    data = {
        "info": info,
        "notes": notes,
        "tools": {
            t.label: {"python": t.python.version, **{k: s.as_dict() for k, s in t.results.items()}}
            for t in tools + ([pb] if pb else [])
        },
        "limit": {k: s.as_dict() for k, s in limit.items()},
        "targets": verdicts,
        "table": out,
    }
    return "\n".join(out), data
