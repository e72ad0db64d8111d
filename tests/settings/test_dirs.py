"""``cache_home`` is pyodide-build's cache folder, as platformdirs computes it. On Linux
the common cases skip importing platformdirs: every such case must give exactly what
platformdirs gives, and every other case must be left to it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest
from helpers.cli import clean_env

from xbuildenv.settings.dirs import cache_home

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the quick path is Linux's")

QUICK = [
    {"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"},
    {"XDG_CACHE_HOME": "/x/cache/", "HOME": "/home/u"},
    {"XDG_CACHE_HOME": "/x//cache//", "HOME": "relative"},
    {"XDG_CACHE_HOME": "/x/cache "},
    {"XDG_CACHE_HOME": "", "HOME": "/home/u"},
    {"HOME": "/home/u"},
    {"HOME": "/home/u/"},
    {"HOME": "/home//u//"},
    {"HOME": "//net/u"},
    {"HOME": "/"},
]
LEFT_TO_PLATFORMDIRS = [
    {"XDG_CACHE_HOME": "rel/cache", "HOME": "/home/u"},  # ignored by 4.14, used before
    {"XDG_CACHE_HOME": "   ", "HOME": "/home/u"},
    {"XDG_CACHE_HOME": " /x/cache", "HOME": "/home/u"},
    {"HOME": "relative"},  # platformdirs asks the password database
    {"HOME": ""},
    {},
]


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("env", QUICK + LEFT_TO_PLATFORMDIRS, ids=repr)
def test_cache_home_is_what_platformdirs_says(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    _set(monkeypatch, env)
    assert cache_home() == Path(platformdirs.user_cache_dir("pyodide-build"))


def _loads_platformdirs(home: Path, env: dict[str, str]) -> bool:
    code = (
        "import sys\n"
        "from xbuildenv.settings.dirs import cache_home\n"
        "cache_home()\n"
        "print('platformdirs' in sys.modules)\n"
    )
    full = {k: v for k, v in clean_env(home).items() if k not in ("XDG_CACHE_HOME", "HOME")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**full, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "True"


def test_the_common_cases_do_not_load_platformdirs(tmp_path: Path) -> None:
    assert not _loads_platformdirs(tmp_path, {"HOME": "/home/u"})
    assert not _loads_platformdirs(tmp_path, {"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"})
    assert _loads_platformdirs(tmp_path, {"XDG_CACHE_HOME": "rel/cache", "HOME": "/home/u"})
