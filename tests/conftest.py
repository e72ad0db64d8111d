from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Server, clean_env


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full-sweep", action="store_true", help="run the slow, exhaustive fault sweeps too"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--full-sweep"):
        return
    skip = pytest.mark.skip(reason="slow sweep: run with --full-sweep")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return clean_env(home)
