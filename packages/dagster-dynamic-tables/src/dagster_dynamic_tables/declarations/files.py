"""Reading the files a declaration names: confined to the tenant's `defs/` folder, bounded, never
blocking.

A declaration file names other files (`query_file`, `local_seed_file`) whose text ends up in DDL,
in `plan`'s output and in the stand-in. Read naively, `query_file: /proc/self/environ` puts the
process's secrets into all three, `/dev/zero` exhausts memory and a FIFO blocks the code location
forever. So every such file goes through `read_tenant_file`:

- the value is a path relative to the declaration file's folder; an absolute path is refused;
- after resolving symbolic links it must be inside the tenant's `defs/` folder (`defs_root`): a
  `../` escape or a link pointing outside is refused, a link inside pointing inside is fine;
- it is opened with `O_NONBLOCK` and checked with `fstat` before a byte is read: only a regular
  file is read (a FIFO, a device, a directory or a socket is refused without waiting);
- at most `limit + 1` bytes are read, so a file over the limit is refused without reading it all;
- the text must be UTF-8.

Every refusal is a `DeclarationProblem` naming the field, the value, the rule and the fix; the
file's content never appears in it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from dagster_dynamic_tables.errors import DeclarationProblem, FileRefusedError

__all__ = [
    "MAX_DECLARATION_FILE_BYTES",
    "MAX_QUERY_FILE_BYTES",
    "MAX_SEED_FILE_BYTES",
    "FileRefusedError",
    "defs_root_of",
    "describe_bytes",
    "read_bounded_file",
    "read_tenant_file",
]

MAX_QUERY_FILE_BYTES = 1024 * 1024
"""Largest `query_file` read (1 MiB): a SELECT, not a data file."""
MAX_SEED_FILE_BYTES = 8 * 1024 * 1024
"""Largest `local_seed_file` read (8 MiB): CREATE TABLE and INSERT statements for the stand-in."""
MAX_DECLARATION_FILE_BYTES = 4 * 1024 * 1024
"""Largest declaration file (`defs.yaml`) read (4 MiB; 1,000 Dynamic Tables take about 0.3 MiB)."""

_MISSING = "does not exist"
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def describe_bytes(size: int) -> str:
    """`1 MiB`, `512 KiB`, `100 bytes`: a limit as people read it."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} bytes"


def read_bounded_file(path: Path, limit: int, limit_name: str, *, follow_links: bool = True) -> str:
    """The UTF-8 text of the regular file at `path`, if it holds at most `limit` bytes.

    Opened without blocking and checked with `fstat` before reading, so a FIFO or a device is
    refused at once; reads at most `limit + 1` bytes. Raises `FileRefusedError` otherwise
    (`limit_name` is the constant named in the message). With `follow_links=False` a symbolic
    link at `path` itself is refused (for a path resolved already)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if not follow_links:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise _open_refused(e) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise FileRefusedError(
                f"is {kind}, not a regular file", "point it at a regular file inside defs/"
            )
        too_big = FileRefusedError(
            f"is larger than {describe_bytes(limit)}, the limit ({limit_name})",
            f"keep the file under {describe_bytes(limit)}",
            too_big=True,
        )
        if info.st_size > limit:
            raise too_big
        data = _read_at_most(fd, limit + 1)
        if len(data) > limit:  # it grew after fstat, or fstat does not know its size
            raise too_big
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileRefusedError(
            f"is not UTF-8 text (invalid byte at offset {e.start})", "save the file as UTF-8"
        ) from None


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _open_refused(error: OSError) -> FileRefusedError:
    if error.errno == errno.ENOENT:
        return FileRefusedError(_MISSING, "give the path of an existing file")
    if error.errno == errno.ELOOP:
        return FileRefusedError(
            "is a symbolic link that changed while it was read",
            "point it at a regular file inside defs/",
        )
    reason = error.strerror or type(error).__name__
    return FileRefusedError(f"cannot be read: {reason}", "check the file and its permissions")


def defs_root_of(base_dir: Path) -> Path:
    """The tenant's `defs/` folder holding `base_dir` (the nearest enclosing folder named `defs`),
    or `base_dir` itself when none encloses it."""
    absolute = Path(os.path.realpath(base_dir))
    for folder in (absolute, *absolute.parents):
        if folder.name == "defs":
            return folder
    return absolute


def read_tenant_file(
    value: str,
    *,
    field: str,
    base_dir: Path | None,
    defs_root: Path | None,
    limit: int,
    limit_name: str,
    missing_fix: str,
) -> tuple[str | None, DeclarationProblem | None]:
    """Read the file a declaration names at YAML path `field` (`dynamic_tables[0].query_file`).

    `value` is relative to `base_dir` (the declaration file's folder; the working directory when
    None) and must resolve inside `defs_root` (the tenant's `defs/` folder; found from `base_dir`
    when None). Returns the text, or the problem explaining the refusal (`missing_fix` is the fix
    for a file that does not exist)."""
    base = Path(os.path.realpath(base_dir if base_dir is not None else Path.cwd()))
    root = Path(os.path.realpath(defs_root)) if defs_root is not None else defs_root_of(base)
    key = field.rsplit(".", 1)[-1]
    outside_fix = (
        f"move the file under {root} and give its path relative to the YAML file's folder ({base})"
    )
    if Path(value).is_absolute():
        return None, DeclarationProblem(
            field,
            f"{value!r} is an absolute path; {key} must name a file inside the tenant's defs/ "
            f"folder ({root}).",
            outside_fix,
        )
    resolved = Path(os.path.realpath(base / value))
    if not resolved.is_relative_to(root):
        return None, DeclarationProblem(
            field,
            f"{value!r} resolves to {resolved}, outside the tenant's defs/ folder ({root}); "
            f"{key} must stay inside it, symbolic links included.",
            outside_fix,
        )
    try:
        # The path is resolved already: a link appearing there now is refused (O_NOFOLLOW).
        return read_bounded_file(resolved, limit, limit_name, follow_links=False), None
    except FileRefusedError as e:
        fix = missing_fix if e.reason == _MISSING else e.fix
        return None, DeclarationProblem(field, f"{value!r} ({resolved}) {e.reason}.", fix)
