"""The database's files on disk: created private, and watched for being deleted or replaced.

Why watch: SQLite keeps writing into the WAL it opened. Delete or replace ``simgate.db-wal``
under a running gateway (a clean-up script, a restore) and every later commit goes into a file
no one will ever read again: after a crash, acknowledged messages are gone (issue 10 item 6).
The inode of each file is noted when the writer opens them and compared before every commit.

Why 0600/0700: the database holds every text and password hash; SQLite gives the ``-wal`` and
``-shm`` files the mode of the database file, so creating that one 0600 covers all three.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
SUFFIXES = ("", "-wal")  # "-shm" is only an index SQLite rebuilds; replacing it loses nothing


def prepare_private(path: Path) -> None:
    """Create missing directories 0700 and the database file 0600; tighten the files that
    exist (an older simgate made them 0644). Existing directories are left as they are: the
    database may live in a directory that is not simgate's own."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    for suffix in ("", "-wal", "-shm"):
        f = Path(f"{path}{suffix}")
        try:
            if f.stat().st_mode & 0o777 != FILE_MODE:
                os.chmod(f, FILE_MODE)
        except FileNotFoundError:
            pass
        except PermissionError as exc:  # not ours to change: say so, keep going
            log.warning("cannot make %s private (mode 0600): %s", f, exc)


@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int


def identity(path: Path) -> FileIdentity | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return FileIdentity(st.st_dev, st.st_ino)


class FileWatch:
    """Notes which files the open database uses and says when one was deleted or replaced.

    Once a change is seen the answer stays: the open connection still writes to the old file,
    so nothing but a restart (which reopens the files) makes writing safe again.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._armed: dict[str, FileIdentity | None] = {}
        self._fault: str | None = None

    def arm(self) -> None:
        """Call once the writer's connection has the files open."""
        self._armed = {s: identity(Path(f"{self._path}{s}")) for s in SUFFIXES}

    def check(self) -> str | None:
        if self._fault is not None or not self._armed:
            return self._fault
        for suffix, was in self._armed.items():
            if was is None:
                continue
            name = f"{self._path}{suffix}"
            now = identity(Path(name))
            if now != was:
                what = "deleted" if now is None else "replaced"
                self._fault = (
                    f"the {'WAL' if suffix == '-wal' else 'database'} file {name} was {what} under the "
                    "running gateway: writes would be lost, so none are accepted; restart simgate"
                )
                log.critical("%s", self._fault)
                return self._fault
        return None
