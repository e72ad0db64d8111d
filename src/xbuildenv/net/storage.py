"""Where mirrors and the shared archive store live: a local folder or an fsspec URL.

A small interface over two backends, just what a mirror and a content-addressed store
need: read a file (whole or in chunks), put a finished file so that readers see all of
it or nothing, delete, list.

* A plain path or ``file://`` URL is a :class:`LocalStorage`: writes go to a hidden
  temporary file in the target's own folder and appear by ``os.replace``.
* Anything else (``s3://bucket/prefix``, ``gs://...``, ``memory://...``) goes through
  ``fsspec`` (the ``xbuildenv[s3]`` extra installs it with ``s3fs``), imported only
  here and only then. An object-store PUT is atomic already: readers see the old
  object or the new one.

Every backend failure becomes a :class:`~xbuildenv.errors.StorageError` naming the
location; a missing file is ``None``/``False``, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StorageError
from .urls import local_path

CHUNK = 1024 * 1024
TEMP_SUFFIX = ".part"  # hidden temporary files: ``.<name>.<pid>.<hex>.part``
ENV_STORAGE_TIMEOUT = "XBUILDENV_STORAGE_TIMEOUT"  # seconds, object-store connect/read


class Storage:
    """The interface; names are ``/``-separated paths relative to :attr:`url`."""

    url: str

    def size(self, name: str) -> int | None:
        """The size of ``name``, or None when it does not exist."""
        raise NotImplementedError

    def chunks(self, name: str) -> Iterator[bytes]:
        """The bytes of ``name``; raises FileNotFoundError when it does not exist."""
        raise NotImplementedError

    def put_file(self, local: Path, name: str) -> None:
        """Store the finished file ``local`` as ``name``, all at once for readers."""
        raise NotImplementedError

    def put_bytes(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def delete(self, name: str) -> None:
        raise NotImplementedError

    def list_files(self) -> list[str]:
        """Every file below the root (temporary files excluded), sorted."""
        raise NotImplementedError

    def read_bytes(self, name: str) -> bytes | None:
        try:
            return b"".join(self.chunks(name))
        except FileNotFoundError:
            return None

    def location(self, name: str) -> str:
        return f"{self.url.rstrip('/')}/{name}"


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def temp_writer_alive(name: str) -> bool:
    """Whether the process that named a temporary file ``.<name>.<pid>.<hex>.part`` runs."""
    try:
        pid = int(name.rsplit(".", 3)[-3])
    except (ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()
        self.url = str(self.root)

    def _path(self, name: str) -> Path:
        return self.root / name

    def size(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _local_error("read", self._path(name), exc) from None

    def chunks(self, name: str) -> Iterator[bytes]:
        path = self._path(name)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _local_error("read", path, exc) from None
        with fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def temp_for(self, name: str) -> Path:
        """A temporary path next to ``name`` (same filesystem: the rename is atomic)."""
        target = self._path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _local_error("write", target.parent, exc) from None
        return _temp_name(target)

    def prune_folders(self, name: str) -> None:
        """Remove the folders above ``name`` that are empty (after a failed write)."""
        folder = self._path(name).parent
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or gone): stop
            folder = folder.parent

    def move_in(self, temp: Path, name: str) -> None:
        """Rename a finished temporary file (from :meth:`temp_for`) into place."""
        try:
            os.replace(temp, self._path(name))
        except OSError as exc:
            raise _local_error("write", self._path(name), exc) from None

    def put_file(self, local: Path, name: str) -> None:
        import shutil

        temp = self.temp_for(name)
        try:
            shutil.copyfile(local, temp)
            self.move_in(temp, name)
        except OSError as exc:
            raise _local_error("write", self._path(name), exc) from None
        finally:
            temp.unlink(missing_ok=True)

    def put_bytes(self, name: str, data: bytes) -> None:
        temp = self.temp_for(name)
        try:
            with temp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())  # an index must not be empty after a power cut
            self.move_in(temp, name)
        except OSError as exc:
            raise _local_error("write", self._path(name), exc) from None
        finally:
            temp.unlink(missing_ok=True)

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink(missing_ok=True)
        except OSError as exc:
            raise _local_error("delete", self._path(name), exc) from None

    def list_files(self) -> list[str]:
        found = []
        for folder, _dirs, files in os.walk(self.root):
            rel = os.path.relpath(folder, self.root)
            for file in files:
                if not is_temp_name(file):
                    found.append(file if rel == "." else f"{rel}/{file}".replace(os.sep, "/"))
        return sorted(found)

    def temp_files(self) -> list[Path]:
        """Temporary files left by writers (live or killed) anywhere below the root."""
        return [
            Path(folder) / f
            for folder, _dirs, files in os.walk(self.root)
            for f in files
            if is_temp_name(f)
        ]


def _local_error(verb: str, path: Path, exc: OSError) -> StorageError:
    return StorageError(f"cannot {verb} {path}: {exc.strerror or exc}", "check the path")


class FsspecStorage(Storage):
    """Any fsspec filesystem; the object's key is ``<prefix>/<name>``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        try:
            import fsspec
        except ImportError:
            raise StorageError(
                f"{url} needs fsspec, which is not installed",
                "pip install 'xbuildenv[s3]' (fsspec and s3fs)",
            ) from None
        protocol = url.split("://", 1)[0]
        try:
            self.fs, self.base = fsspec.core.url_to_fs(
                self.url, skip_instance_cache=True, **_options(protocol)
            )
        except ImportError as exc:
            raise StorageError(
                f"{url}: {exc}", "pip install 'xbuildenv[s3]' (or the fsspec backend it names)"
            ) from None
        except Exception as exc:
            raise self._error("open", self.url, exc) from None
        self.base = self.base.rstrip("/")

    def _path(self, name: str) -> str:
        return f"{self.base}/{name}" if self.base else name

    def _error(self, verb: str, where: str, exc: BaseException) -> StorageError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StorageError(
            f"cannot {verb} {where}: {text}", "check the URL, the credentials and the network"
        )

    def size(self, name: str) -> int | None:
        try:
            self.fs.invalidate_cache()
            info: dict[str, Any] = self.fs.info(self._path(name))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", self.location(name), exc) from None
        return int(info.get("size") or 0) if info.get("type", "file") == "file" else None

    def chunks(self, name: str) -> Iterator[bytes]:
        try:
            fh = self.fs.open(self._path(name), "rb", block_size=CHUNK)
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise self._error("read", self.location(name), exc) from None
        with fh:
            while True:
                try:
                    chunk = fh.read(CHUNK)
                except FileNotFoundError:
                    raise  # deleted since it was opened: missing, not a failure
                except Exception as exc:
                    from fsspec.exceptions import FileExpired  # loaded already: fsspec is in use

                    if isinstance(exc, FileExpired):
                        # replaced since it was opened (its ETag changed): as if missing
                        raise FileNotFoundError(self.location(name)) from None
                    raise self._error("read", self.location(name), exc) from None
                if not chunk:
                    return
                yield chunk

    def read_bytes(self, name: str) -> bytes | None:
        # One GET: a small object (a marker, an index) that another writer replaces
        # while we read is then the old or the new one, never an error.
        try:
            data: bytes = self.fs.cat_file(self._path(name))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", self.location(name), exc) from None
        return data

    def put_file(self, local: Path, name: str) -> None:
        try:
            self.fs.put_file(str(local), self._path(name))
        except Exception as exc:
            raise self._error("write", self.location(name), exc) from None

    def put_bytes(self, name: str, data: bytes) -> None:
        try:
            self.fs.pipe_file(self._path(name), data)
        except Exception as exc:
            raise self._error("write", self.location(name), exc) from None

    def delete(self, name: str) -> None:
        try:
            self.fs.rm_file(self._path(name))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._error("delete", self.location(name), exc) from None

    def list_files(self) -> list[str]:
        try:
            self.fs.invalidate_cache()
            found = self.fs.find(self.base) if self.base else self.fs.find("")
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._error("list", self.url, exc) from None
        cut = len(self.base) + 1 if self.base else 0
        names = (str(p)[cut:] for p in found)
        return sorted(n for n in names if n and not is_temp_name(n.rsplit("/", 1)[-1]))


def _options(protocol: str) -> dict[str, Any]:
    """Short timeouts and few retries for object stores: a store that is down must
    cost seconds (then the origin is used), not the SDK's minutes of retrying."""
    if protocol not in ("s3", "s3a"):
        return {}
    from ..settings.config import env_number

    timeout = env_number(ENV_STORAGE_TIMEOUT, 10.0, minimum=0.1)
    return {
        "use_listings_cache": False,
        "config_kwargs": {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "retries": {"max_attempts": 2, "mode": "standard"},
        },
    }


def open_storage(location: str, *, http: bool = False) -> Storage:
    """The storage for a folder, ``file://`` URL or fsspec URL; with ``http``, also an
    ``http(s)://`` URL written with PUT (a remote store; a mirror must be listable)."""
    from urllib.parse import urlparse

    scheme = urlparse(location).scheme
    if scheme in ("", "file"):
        path = local_path(location)
        assert path is not None
        return LocalStorage(path)
    if scheme in ("http", "https"):
        if http:
            from .http_storage import HttpStorage

            return HttpStorage(location)
        raise StorageError(
            f"{location}: plain HTTP cannot be written to",
            "give a folder (then serve it with any web server) or an object-store URL",
        )
    return FsspecStorage(location)
