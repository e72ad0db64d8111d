"""Installed versions in PEP 440 order without importing ``packaging`` (start-up time):
``packaging`` itself is the reference here."""

from __future__ import annotations

from packaging.version import Version

from xbuildenv.cache.ordering import installed_version_key

# Plain releases (the fast path) and every other PEP 440 part, with ties (1 == 1.0).
VERSIONS = [
    "0.9", "0.27.7", "0.28", "0.28.0", "0.28.0.0", "0.28.0a1", "0.28.0rc2", "0.28.0.post1",
    "0.28.1.dev3", "0.29.4", "1", "1.0", "v1.0.1", "01.2", "1!0.1", "10.0", " 3.4 ",
]  # fmt: skip


def test_order_and_ties_are_pep_440s() -> None:
    for a in VERSIONS:
        for b in VERSIONS:
            va, vb = Version(a.strip()), Version(b.strip())
            ka, kb = installed_version_key(a), installed_version_key(b)
            assert (ka < kb, ka == kb) == (va < vb, va == vb), (a, b)


def test_other_names_sort_after_versions_and_never_crash() -> None:
    # "1²": a digit to str.isdigit, no digit to int() or to the pattern's \d
    names = ["https___example_org_env_tar_gz", "custom-10", "1²", "custom-2", "0.29.4"]
    assert sorted(names, key=installed_version_key) == [
        "0.29.4",
        "1²",
        "custom-2",
        "custom-10",
        "https___example_org_env_tar_gz",
    ]
