"""``--exclude-newer`` (issue 19, item 4): uv's option and meaning, on ``install``,
``search`` and ``mirror sync``, as a ``[tool.xbuildenv]`` key and as a variable.

A release published at or after the cut-off is not seen; one without ``published_at``
is kept, and ``-v`` says so once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.archives import index
from helpers.cli import one_error, run
from helpers.servers import Server, serve_env

from xbuildenv.errors import UsageError
from xbuildenv.index.cooldown import parse_exclude_newer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 days", NOW - timedelta(days=7)),
        ("1 week", NOW - timedelta(weeks=1)),
        ("1 week 2 days", NOW - timedelta(days=9)),
        ("36 hours ago", NOW - timedelta(hours=36)),
        ("P7D", NOW - timedelta(days=7)),
        ("P1W", NOW - timedelta(weeks=1)),
        ("PT36H", NOW - timedelta(hours=36)),
        ("P1DT12H", NOW - timedelta(hours=36)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00+02:00", datetime(2026, 1, 31, 10, tzinfo=UTC)),
    ],
)
def test_values_uv_accepts(text: str, expected: datetime) -> None:
    assert parse_exclude_newer(text, "--exclude-newer", NOW) == expected


def test_a_date_is_midnight_in_the_local_time_zone() -> None:
    local = datetime(2026, 1, 31).astimezone()
    assert parse_exclude_newer("2026-01-31", "--exclude-newer", NOW) == local.astimezone(UTC)


@pytest.mark.parametrize("text", ["soon", "7 fortnights", "P", "PT", "2026-13-01", "7 days 3", ""])
def test_nonsense_is_a_usage_error_naming_where_it_came_from(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_exclude_newer(text, "XBUILDENV_EXCLUDE_NEWER", NOW)
    assert caught.value.message.startswith(f"XBUILDENV_EXCLUDE_NEWER {text!r} is not")


# --- through the CLI, against a loopback index -----------------------------------------
def _published(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def meta(server: Server) -> str:
    """1.0 (a year old), 2.0 (two days old), 0.5 (no published_at)."""
    releases: list[dict[str, Any]] = [
        serve_env(server, "1.0", published_at=_published(365)),
        serve_env(server, "2.0", published_at=_published(2)),
        serve_env(server, "0.5"),
    ]
    return server.add("/index.json", index(*releases))


def _seen(env: dict[str, str], meta: str, *args: str, cwd: Path | None = None) -> list[str]:
    r = run("search", "--json", "--metadata", meta, *args, env=env, cwd=cwd)
    assert r.code == 0, r.err
    return sorted(e["version"] for e in json.loads(r.out)["environments"])


def test_search_install_and_the_three_ways_to_set_it(
    meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    assert _seen(env, meta) == ["0.5", "1.0", "2.0"]
    assert _seen(env, meta, "--exclude-newer", "7 days") == ["0.5", "1.0"]
    assert _seen(env, meta, "--exclude-newer", "P1D") == ["0.5", "1.0", "2.0"]
    assert _seen({**env, "XBUILDENV_EXCLUDE_NEWER": "1 week"}, meta) == ["0.5", "1.0"]
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.xbuildenv]\nexclude_newer = "P7D"\n')
    assert _seen(env, meta, cwd=project) == ["0.5", "1.0"]
    # an unquoted TOML date works too; the option wins over the key
    (project / "pyproject.toml").write_text("[tool.xbuildenv]\nexclude_newer = 2000-01-01\n")
    assert _seen(env, meta, cwd=project) == ["0.5"]
    assert _seen(env, meta, "--exclude-newer", "1 day", cwd=project) == ["0.5", "1.0", "2.0"]
    # install: the newest release seen is 1.0; 2.0 by name is refused, saying why
    root = str(tmp_path / "root")
    r = run("install", "--metadata", meta, "--path", root, "--exclude-newer", "7 days", env=env)
    assert r.code == 0, r.err
    assert (Path(root) / "xbuildenv").resolve().name == "1.0"
    line = one_error(
        run(
            "install",
            "2.0",
            "--metadata",
            meta,
            "--path",
            root,
            "--exclude-newer",
            "7 days",
            env=env,
        )
    )
    assert "release 2.0 was published at" in line and "--exclude-newer 7 days" in line, line


def test_an_undated_release_is_kept_and_said_once_with_verbose(
    meta: str, env: dict[str, str]
) -> None:
    args = ("search", "--metadata", meta, "--exclude-newer", "7 days")
    quiet = run(*args, env=env)
    assert quiet.code == 0 and "published_at" not in quiet.err, quiet.err
    loud = run(*args, "-v", env=env)
    assert loud.code == 0, loud.err
    said = [line for line in loud.err.splitlines() if "without published_at" in line]
    assert len(said) == 1 and "kept 1 release(s)" in said[0], loud.err


def test_a_bad_value_is_one_usage_error(meta: str, env: dict[str, str]) -> None:
    line = one_error(run("search", "--metadata", meta, "--exclude-newer", "soon", env=env), 2)
    assert "--exclude-newer 'soon' is not a date" in line
    bad = {**env, "XBUILDENV_EXCLUDE_NEWER": "yesterday"}
    line = one_error(run("search", "--metadata", meta, env=bad), 2)
    assert "XBUILDENV_EXCLUDE_NEWER 'yesterday'" in line


def test_mirror_sync_holds_back_new_releases(
    meta: str, env: dict[str, str], tmp_path: Path
) -> None:
    dest = tmp_path / "mirror"
    args = ("mirror", "sync", str(dest), "--metadata", meta, "--dry-run", "--json")
    r = run(*args, "--exclude-newer", "7 days", "-v", env=env)
    assert r.code == 0, r.err
    assert sorted(a["version"] for a in json.loads(r.out)["archives"]) == ["0.5", "1.0"]
    assert sum("without published_at" in line for line in r.err.splitlines()) == 1, r.err
    r = run(*args, env=env)
    assert sorted(a["version"] for a in json.loads(r.out)["archives"]) == ["0.5", "1.0", "2.0"]
