"""MkDocs hook: fills the generated reference into the pages as the site is built."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docs_gen.reference import expand


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return expand(markdown)
