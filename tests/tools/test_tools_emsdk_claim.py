"""Two runners missing the same SDK at the same moment in a shared remote store: each
writes the claim marker, reads it back, and only the one whose marker is still there
builds and uploads; the other waits for that pack and unpacks it.

Real processes on two "machines" (separate homes, caches and SDK stores), sharing a
remote store: a folder, and moto's S3 server. Both are stopped with a real SIGSTOP
right before writing their claim (each has already seen no pack and no claim) and go
on together, so the race is the same on every run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cli import clean_env, install_env
from helpers.servers import Server


def _builds(log: Path) -> int:
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(line.startswith("install ") for line in lines)


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[0] == "T"


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_two_runners_racing_for_one_sdk_build_and_upload_it_once(
    server: Server, tmp_path: Path, emsdk_repo: str, where: str, request: pytest.FixtureRequest
) -> None:
    extra: dict[str, str] = {}
    if where == "s3":
        moto = request.getfixturevalue("moto_s3")
        bucket = moto.new_bucket()
        url = f"s3://{bucket}/fleet"
        extra = dict(moto.env)
    else:
        url = str(tmp_path / "remote")
    log = tmp_path / "calls.log"
    procs = []
    for name in ("a", "b"):
        home = tmp_path / name
        home.mkdir()
        env = clean_env(home, FAKE_EMSDK_LOG=str(log), XBUILDENV_EMSDK_URL=emsdk_repo,
                        XBUILDENV_REMOTE_STORE=url, **extra)  # fmt: skip
        root = install_env(server, env, home / "root").parent.parent.parent
        env["XBUILDENV_TEST_CHECKPOINTS"] = "point=sdk.claim,at=1,signal=STOP"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xbuildenv",
                    "install-emscripten",
                    "-v",
                    "--path",
                    str(root),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 120
        while not all(_stopped(p.pid) for p in procs):
            assert time.monotonic() < deadline, "a runner never reached its claim"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        assert _builds(log) == 0
        for p in procs:
            os.kill(p.pid, signal.SIGCONT)
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert _builds(log) == 1, [err for _, err in outputs]  # emsdk ran on one machine only
    how = sorted(
        "built" if "(built;" in err else "remote" if "(from the remote store;" in err else err
        for _, err in outputs
    )
    assert how == ["built", "remote"], how
    if where == "s3":
        fs = moto.fs()
        names = [p.rpartition("/")[2] for p in fs.find(f"{bucket}/fleet")]
    else:
        names = [p.name for p in Path(url).rglob("*") if p.is_file()]
    assert sum(n.endswith(".tar.zst") for n in names) == 1, names  # one upload
    assert not [n for n in names if n.startswith("emsdk-")], names  # the claim is gone
