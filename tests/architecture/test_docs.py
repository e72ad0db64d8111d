"""The docs cannot drift: the site builds strictly, its references name every command,
option, setting and error, and every command example in it runs.

The examples run in a sandbox (a temporary HOME and cache, a loopback server serving
the demo environment) through a real shell; `xbuildenv` there is this checkout.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from docs_gen import examples as doc_examples  # noqa: E402
from docs_gen import reference  # noqa: E402

EXAMPLES = doc_examples.all_examples(REPO)
# blocks that run something of ours; the others hold only other tools' commands, checked
# by test_other_tools_in_examples_are_known
BLOCKS = sorted({(e.file, e.block) for e in EXAMPLES if e.xbuildenv_calls})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr
    return out


def test_every_command_and_option_is_in_the_built_cli_reference(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text()
    missing = []
    for path, parser in reference.commands():
        if f"<code>{path}</code>" not in page:
            missing.append(path)
        missing += [f"{path} {o}" for o in reference.option_strings(parser) if o not in page]
    assert missing == []


def test_every_error_class_has_a_troubleshooting_entry(site: Path) -> None:
    from xbuildenv import errors

    source = (REPO / "docs" / "troubleshooting.md").read_text()
    page = (site / "troubleshooting" / "index.html").read_text()
    for name in errors.__all__:
        assert f"## `{name}`" in source, f"docs/troubleshooting.md has no section for {name}"
        assert name in page


def test_the_readme_is_a_front_door() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 260
    for command in ("pipx install xbuildenv", "uv tool install xbuildenv", "pip install xbuildenv"):
        assert command in text


def test_other_tools_in_examples_are_known() -> None:
    unknown = [
        f"{e.file}:{e.line}: {e.text}"
        for e in EXAMPLES
        if not e.xbuildenv_calls and e.words and e.words[0] not in doc_examples.OTHER_TOOLS
    ]
    assert unknown == []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A HOME, a working folder with examples/, a loopback server with the demo index."""
    base = tmp_path_factory.mktemp("docs-sandbox")
    served = base / "served"
    served.mkdir()
    demo = json.loads((REPO / "examples" / "demo-index.json").read_text())
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    for release in demo["releases"].values():
        shutil.copy(REPO / "examples" / release["url"], served / release["url"])
    # The examples name 0.29.4 and expect it to fit the Python running them: the demo's
    # archive is offered as 0.29.4 for this interpreter, and as 0.29.3 for Python 3.13.
    demo["releases"]["0.29.3"] = dict(demo["releases"]["0.29.4"], version="0.29.3")
    demo["releases"]["0.29.4"]["python_version"] = f"{host}.0"
    (served / "index.json").write_text(json.dumps(demo))
    handler = functools.partial(_Quiet, directory=str(base))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    from helpers.archives import make_emsdk_repo

    emsdk = make_emsdk_repo(base)
    yield {"base": base, "url": url, "index": f"{url}/served/index.json", "emsdk": emsdk}
    httpd.shutdown()


# Hosts the examples name that the sandbox serves instead (the sandbox has no network).
def _rewrite(line: str, url: str) -> str:
    return line.replace("https://mirror.internal/xbuildenv", f"{url}/work/xbuildenv-mirror")


@pytest.mark.parametrize(("file", "block"), BLOCKS, ids=[f"{f}#{b}" for f, b in BLOCKS])
def test_examples_run(file: str, block: int, sandbox: dict[str, object], tmp_path: Path) -> None:
    lines = [e for e in EXAMPLES if (e.file, e.block) == (file, block) and e.xbuildenv_calls]
    base = Path(str(sandbox["base"]))
    work = base / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    home = tmp_path / "home"
    for folder in (".zfunc", ".config/fish/completions"):
        (home / folder).mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "xbuildenv").write_text(f'#!/bin/sh\nexec {sys.executable} -m xbuildenv "$@"\n')
    (bin_dir / "xbuildenv").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYODIDE_CROSS_BUILD_ENV_METADATA_URL": str(sandbox["index"]),
        "CI": "1",
        "XBUILDENV_EMSDK_URL": str(sandbox["emsdk"]),
    }
    for example in lines:
        script = _rewrite(example.text, str(sandbox["url"]))
        done = subprocess.run(
            ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
        where = f"{example.file}:{example.line}: {example.text}"
        assert done.returncode == 0, f"{where}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, where
