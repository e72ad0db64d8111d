"""The target environment: which Python the cross-build environment is for.

Normally that is the interpreter running us. When xbuildenv itself lives in an
isolated tool installation (pipx, ``uv tool``), the environment the user works in is
the active virtual environment (``VIRTUAL_ENV``) or an interpreter named with
``--python``; we ask that interpreter about itself with one short subprocess.
"""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path

from ..errors import UsageError
from ..records import Record

# Files that pipx and uv write into the environments they manage.
_TOOL_MARKERS = ("pipx_metadata.json", "uv-receipt.toml")

_PROBE = r"""
import json, sys
from importlib.util import find_spec
from pathlib import Path
spec = find_spec("pyodide_build")
pb_dir = pb_ver = None
if spec is not None and spec.origin:
    pb_dir = str(Path(spec.origin).resolve().parent)
    try:
        from importlib.metadata import version
        pb_ver = version("pyodide-build")
    except Exception:
        pass
print(json.dumps({"prefix": sys.prefix, "python": "%d.%d" % sys.version_info[:2],
                  "pb_dir": pb_dir, "pb_ver": pb_ver}))
"""


class TargetEnv(Record):
    """What we need to know about the environment builds will run in."""

    __slots__ = (
        "_pb_version",
        "_version_known",
        "prefix",
        "pyodide_build_dir",
        "python_version",
        "source",
    )

    def __init__(
        self,
        prefix: Path,
        python_version: str,
        pyodide_build_dir: Path | None,
        source: str,
        _pyodide_build_version: str | None = None,
        _version_known: bool = False,
    ) -> None:
        self.prefix = prefix
        self.python_version = python_version  # "major.minor"
        self.pyodide_build_dir = pyodide_build_dir
        self.source = source  # which rule picked it, for messages and `root --json`
        self._pb_version = _pyodide_build_version
        self._version_known = _version_known

    @property
    def pyodide_build_version(self) -> str | None:
        """Version of pyodide-build installed in the target, if any (looked up once)."""
        if self._version_known or self.pyodide_build_dir is None:
            return self._pb_version
        from importlib.metadata import PackageNotFoundError, version

        try:
            self._pb_version = version("pyodide-build")
        except PackageNotFoundError:
            self._pb_version = None
        self._version_known = True
        return self._pb_version

    def interpreter(self, named: str | None = None) -> str:
        """The interpreter to run for this environment (host packages are installed
        with it): ``named`` as given (``--python``), this one, or the target's own."""
        if named:
            return named
        if self.source == "running interpreter":
            return sys.executable
        return str(_venv_python(self.prefix))


def current_interpreter() -> TargetEnv:
    spec = find_spec("pyodide_build")
    pb_dir = Path(spec.origin).resolve().parent if spec is not None and spec.origin else None
    return TargetEnv(
        prefix=Path(sys.prefix).resolve(),
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        pyodide_build_dir=pb_dir,
        source="running interpreter",
    )


def running_from_tool_install() -> bool:
    """True when we run from an environment that pipx or ``uv tool`` made for us."""
    prefix = Path(sys.prefix)
    return any((prefix / marker).exists() for marker in _TOOL_MARKERS)


def _venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def probe_interpreter(python: str, source: str) -> TargetEnv:
    """Ask another interpreter for its prefix, version and pyodide-build."""
    import json
    import re
    import shutil
    import subprocess

    exe = shutil.which(python) or python
    try:
        out = subprocess.run(
            [exe, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        info = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError, RecursionError) as exc:
        raise UsageError(
            f"cannot run the target Python {python!r} ({source}): {exc}",
            "pass an existing interpreter with --python",
        ) from None
    shape: dict[str, type | tuple[type, ...]] = {
        "prefix": str,
        "python": str,
        "pb_dir": (str, type(None)),
        "pb_ver": (str, type(None)),
    }
    if not isinstance(info, dict) or any(
        not isinstance(info.get(k, 0), t) or k not in info for k, t in shape.items()
    ):
        raise UsageError(
            f"the target Python {python!r} ({source}) answered the probe with something "
            "that is not its description",
            "pass a CPython interpreter with --python (is it a wrapper script?)",
        )
    if not re.match(r"^\d+\.\d+$", info["python"]):
        raise UsageError(
            f"the target Python {python!r} ({source}) reported version {info['python']!r}",
            "pass a CPython interpreter with --python",
        )
    return TargetEnv(
        prefix=Path(info["prefix"]).resolve(),
        python_version=info["python"],
        pyodide_build_dir=Path(info["pb_dir"]) if info["pb_dir"] else None,
        source=source,
        _pyodide_build_version=info["pb_ver"],
        _version_known=True,
    )


def resolve_target(python: str | None = None) -> TargetEnv:
    """Pick the target environment by the rules in the module docstring."""
    if python:
        return probe_interpreter(python, "--python")
    venv = os.environ.get("VIRTUAL_ENV")
    other_venv = venv and Path(venv).resolve() != Path(sys.prefix).resolve()
    if venv and other_venv and running_from_tool_install():
        return probe_interpreter(str(_venv_python(Path(venv))), "VIRTUAL_ENV")
    return current_interpreter()
