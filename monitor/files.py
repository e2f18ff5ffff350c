"""Files the monitor writes are private to its user, whatever the umask.

Backups, digest archives, ``digest --out`` pages and the demo's folder hold what children and
parents wrote: they are created 0600 (folders 0700). A process umask of 022, the usual default
outside the systemd unit, would otherwise make them readable by every account of the server.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def write_private(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file), mode 0600.

    A missing folder is created 0700; an existing file is replaced by the new, private one.
    """
    path = Path(path)
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    content = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a partial file left by an older run keeps its mode otherwise
        with os.fdopen(fd, "wb", closefd=False) as out:
            out.write(content)
    finally:
        os.close(fd)
    os.replace(partial, path)
    return path


@contextmanager
def private_umask() -> Iterator[None]:
    """Every file and folder created meanwhile, by this process and its libraries, is private.

    The umask belongs to the whole process: this is for a command that owns it (``monitor demo``),
    not for the daemon, whose threads write with :func:`write_private` instead.
    """
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)
