"""Output files and directories written all or nothing, never over what sampler did not write.

Every command that writes a directory (plan, simulate, roster, whatif, notices, generate) writes it
through `atomic_directory`; `sms` writes its CSV files through `atomic_file`. The rules:

* The target is new, empty, or holds only an earlier output of the **same** command, which it
  replaces. Each output directory carries a marker, ``.sampler-output.json``, naming the command
  and every file it wrote with its size; that is how an earlier output is recognised.
* ``force=True`` (``--force``) also replaces an earlier output of *another* sampler command
  (e.g. a plan directory written over by `simulate`), including outputs nested inside it. It never
  replaces files sampler did not write: a directory holding anything not listed in its marker (or
  a listed file whose size changed since) is refused, with or without ``force``.
* Refused as well: the current directory or one of its parents, a directory that holds one of the
  run's inputs (the registry's own folder, a plan being read), a file where a directory is wanted
  (and the reverse), and symbolic links. Every refusal is an `InputError` (exit 2) that says what
  to do, raised before anything is written.
* Files are written into a private staging directory beside the target (mode 0700, named
  ``.sampler-staging-<name>-<random>``), then swapped in with one atomic rename (Linux
  ``renameat2(RENAME_EXCHANGE)``; two renames elsewhere). The output is private to the user (files
  0600, directories 0700): plan directories hold residents' names and phones.
* A run killed in the middle (even ``kill -9``) leaves at most that staging directory, unreadable
  to others; every later run that writes beside it removes staging directories and files whose
  owner is gone (each holds an ``flock`` on its ``.lock`` while alive, released by the kernel when
  the process dies), so no personal data stays outside the output.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from sampler.errors import InputError, InputIssue

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: stale staging is never recognised, so kept
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MARKER",
    "STAGING_PREFIX",
    "atomic_directory",
    "atomic_file",
    "check_output_directory",
    "check_output_file",
    "clean_stale",
    "csv_header_is",
    "read_marker",
    "scenario_inputs",
]

MARKER = ".sampler-output.json"
STAGING_PREFIX = ".sampler-staging-"
_LOCK = ".lock"
_FIELD = "-o"
_SHOWN = 3  # foreign names listed in a message

# Lock descriptors this process holds; a forked child closes its copies so that the lock goes
# with the parent (a forked workbook writer must not keep a dead parent's staging alive).
_HELD: set[int] = set()


def _drop_inherited_locks() -> None:
    for fd in list(_HELD):
        with suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_locks)


def _issue(path: Path | str, value: str, fix: str) -> InputError:
    return InputError([InputIssue(str(path), None, _FIELD, value, fix)])


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _contains(outer: Path, inner: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (both real paths)."""
    return inner == outer or outer in inner.parents


# ---------------------------------------------------------------------------------------------
# What an existing directory holds


@dataclass
class _Survey:
    command: str | None = None  # the marker's command (None: no marker)
    commands: set[str] = field(default_factory=set)  # every sampler command whose output is here
    foreign: list[str] = field(default_factory=list)  # not written by sampler
    changed: list[str] = field(default_factory=list)  # written by sampler, changed since


def read_marker(directory: str | Path) -> dict[str, object] | None:
    """The output marker of ``directory`` (command, files), or None when it has none or a broken one."""
    path = Path(directory) / MARKER
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 50_000_000:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(data, dict) or data.get("written_by") != "sampler" or not isinstance(data.get("command"), str)
            or not isinstance(data.get("files"), dict)):
        return None
    return data


def _survey(directory: Path, prefix: str = "") -> _Survey:
    """Sort every entry below ``directory`` into sampler's own files, nested outputs and the rest."""
    marker = read_marker(directory)
    files: dict[str, object] = dict(marker["files"]) if marker else {}  # type: ignore[call-overload]
    out = _Survey(command=str(marker["command"]) if marker else None)
    if marker:
        out.commands.add(str(marker["command"]))
    own_dirs = {str(Path(f).parent) for f in files}
    own_dirs |= {str(p) for f in files for p in Path(f).parents}
    for root, dirs, names in os.walk(directory):
        rel_root = os.path.relpath(root, directory)
        for d in list(dirs):
            full, rel = Path(root) / d, os.path.normpath(os.path.join(rel_root, d))
            if full.is_symlink():
                out.foreign.append(prefix + rel)
                dirs.remove(d)
            elif read_marker(full) is not None and rel not in own_dirs:
                inner = _survey(full, prefix + rel + "/")  # an output of another run inside this one
                out.commands |= inner.commands
                out.foreign += inner.foreign
                out.changed += inner.changed
                dirs.remove(d)
            elif rel not in own_dirs and not any(True for _ in os.scandir(full)):
                out.foreign.append(prefix + rel + "/")
        for n in names:
            rel = os.path.normpath(os.path.join(rel_root, n))
            if rel == MARKER and marker is not None:
                continue
            size = files.get(rel)
            if size is None:
                out.foreign.append(prefix + rel)
                continue
            try:
                st = os.lstat(os.path.join(root, n))
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size != size:
                out.changed.append(prefix + rel)
    out.foreign.sort()
    out.changed.sort()
    return out


# ---------------------------------------------------------------------------------------------
# Checks (run before any work, and again just before the swap)


def scenario_inputs(scenario: object) -> list[Path]:
    """The files a scenario reads (its registry files and the scenario file itself), which no
    output may replace or contain."""
    files: list[Path] = []
    path_of = getattr(scenario, "path_of", None)
    if path_of is not None:
        kinds = getattr(getattr(scenario, "registry", None), "kinds", ("households", "buildings", "sites"))
        for kind in kinds:
            with suppress(AttributeError, TypeError):
                files.append(Path(path_of(kind)))
    source = Path(str(getattr(scenario, "source", "")))
    if str(source) and source.is_file():
        files.append(source)
    return files


def _common_checks(target: Path, given: str | Path, inputs: Iterable[str | Path], suggest: str) -> None:
    cwd = _real(Path.cwd())
    real = _real(target)
    if _contains(real, cwd):
        raise _issue(given, str(given), f"this is the current folder or one of its parents; give a new folder for "
                                        f"the output, e.g. {suggest}")
    for item in inputs:
        inp = _real(Path(item))
        if _contains(real, inp):
            what = "is an input of this run" if real == inp else f"holds an input of this run ({inp.name})"
            raise _issue(given, str(given), f"{target.name or given} {what}; sampler never writes over its inputs: "
                                            f"give a new folder, e.g. {suggest}")


def check_output_directory(directory: str | Path, command: str, *, force: bool = False,
                           inputs: Iterable[str | Path] = ()) -> None:
    """Raise InputError unless ``command`` may write its output directory at ``directory`` (see the module)."""
    given = directory
    target = Path(os.path.abspath(directory))
    suggest = str(Path(given) / command) if str(given) not in (".", "") else f"./{command}"
    _common_checks(target, given, inputs, suggest)
    if target.is_symlink():
        raise _issue(given, str(given), "is a symbolic link; give the real folder, or a new one")
    if not target.exists():
        return
    if not target.is_dir():
        raise _issue(given, str(given), f"is a file, not a folder; give a folder for the output, e.g. {target.parent / command}")
    try:
        survey = _survey(target)
    except OSError as exc:
        raise _issue(given, exc.strerror or str(exc), "the output folder cannot be read; check its permissions") from None
    if survey.foreign:
        raise _issue(given, _names(survey.foreign),
                     "this folder holds files sampler did not write; give a new or empty folder, or move those "
                     "files away (--force never removes them)")
    if survey.changed:
        raise _issue(given, _names(survey.changed),
                     "these files were changed after sampler wrote them; move them away or give another folder "
                     "(--force never removes them)")
    others = sorted(survey.commands - {command}) if survey.command == command else sorted(survey.commands)
    if others and not force:
        which = ", ".join(f"`sampler {c}`" for c in others)
        raise _issue(given, which, f"this folder holds an earlier output of {which}; give another folder, "
                                   "or add --force to replace it")


def csv_header_is(columns: Iterable[str]) -> Callable[[Path], bool]:
    """A test for `atomic_file`: whether a file's first line is exactly this CSV header."""
    head = ",".join(columns).encode("utf-8")

    def test(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                first = fh.read(len(head) + 8).removeprefix(b"\xef\xbb\xbf")
        except OSError:
            return False
        return first.startswith(head) and first[len(head):len(head) + 1] in (b"\n", b"\r", b"")

    return test


def check_output_file(path: str | Path, command: str, *, force: bool = False, inputs: Iterable[str | Path] = (),
                      recognise: Callable[[Path], bool] | None = None) -> None:
    """Raise InputError unless ``command`` may write the file ``path``: new, an earlier output of
    the same command (``recognise``), or any other file with ``force``; never a folder or an input."""
    given = path
    target = Path(os.path.abspath(path))
    real = _real(target)
    if _contains(real, _real(Path.cwd())) or target.is_dir():
        raise _issue(given, str(given), f"is a folder; give a file name, e.g. {target / (command + '.csv')}")
    for item in inputs:
        inp = _real(Path(item))
        if real == inp or (inp.is_dir() and _contains(inp, real)):
            raise _issue(given, str(given), f"{'is' if real == inp else 'lies in'} an input of this run ({inp.name}); "
                                            "give a file name outside the inputs")
    if target.is_symlink():
        raise _issue(given, str(given), "is a symbolic link; give the real file, or a new name")
    if target.exists() and not force and not (recognise is not None and recognise(target)):
        raise _issue(given, str(given), f"this file exists and was not written by `sampler {command}`; give another "
                                        "file name, or add --force to overwrite it")


# ---------------------------------------------------------------------------------------------
# Staging, clean-up and the swap


def _lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False when another process holds it."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _stale(path: Path) -> bool:
    """Whether a staging entry's owner is gone (its lock can be taken); the lock is dropped again."""
    if fcntl is None:  # pragma: no cover
        return False
    lock = path / _LOCK if path.is_dir() else path
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return path.is_dir() and not any(True for _ in os.scandir(path))  # died before taking the lock
    except OSError:
        return False
    try:
        return _lock(fd)
    finally:
        os.close(fd)


def clean_stale(parent: str | Path) -> list[Path]:
    """Remove the staging directories and files in ``parent`` left by sampler runs that died
    (this user's only, and only those whose owner no longer holds their lock); returns them."""
    parent = Path(parent)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if not entry.name.startswith(STAGING_PREFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (uid is not None and st.st_uid != uid) or stat.S_ISLNK(st.st_mode):
            continue
        path = Path(entry.path)
        if not _stale(path):
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with suppress(OSError):
                path.unlink()
        removed.append(path)
    return removed


def _clean_legacy(parent: Path, name: str, own: set[str]) -> None:
    """Remove ``.NAME.partial`` / ``.NAME.old`` left by sampler versions before the staging
    directories, when they hold nothing but files of the output just written (they held names
    and phones)."""
    for suffix in (".partial", ".old"):
        path = parent / f".{name}{suffix}"
        if path.is_symlink() or not path.is_dir():
            continue
        found = {os.path.relpath(os.path.join(r, n), path) for r, _, ns in os.walk(path) for n in ns}
        if found <= own:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _staging(parent: Path, name: str, as_file: bool) -> Iterator[tuple[Path, int]]:
    """A private staging directory (or file) in ``parent``, locked while this process lives."""
    prefix = f"{STAGING_PREFIX}{name[:80]}-"
    if as_file:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)  # 0600
        path, lock_fd = Path(tmp), fd
    else:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))  # 0700
        lock_fd = os.open(path / _LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    _HELD.add(lock_fd)
    try:
        _lock(lock_fd)
        yield path, lock_fd
    finally:
        if as_file:
            with suppress(FileNotFoundError):
                path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)
        _HELD.discard(lock_fd)
        os.close(lock_fd)


def _private(directory: Path) -> dict[str, int]:
    """Make every file 0600 and folder 0700 below ``directory``; the files and their sizes."""
    files: dict[str, int] = {}
    for root, dirs, names in os.walk(directory):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o700)
        for n in names:
            full = os.path.join(root, n)
            os.chmod(full, 0o600)
            files[os.path.relpath(full, directory).replace(os.sep, "/")] = os.lstat(full).st_size
    return files


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _os_error(path: str | Path, exc: OSError) -> InputError:
    return _issue(path, exc.strerror or type(exc).__name__,
                  "the output could not be written (nothing was changed); check the folder's free space and "
                  "permissions and run again")


@contextmanager
def atomic_directory(directory: str | Path, command: str, *, force: bool = False,
                     inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a private staging directory; on success it replaces ``directory``, on error it is removed.

    ``command`` names the sampler command whose output this is (written to the marker);
    ``force`` and ``inputs`` as in `check_output_directory`, which runs first and again just
    before the swap. Usage::

        with atomic_directory(out, "plan", inputs=[scenario_file]) as tmp:
            write_files(tmp)
    """
    inputs = list(inputs)
    check_output_directory(directory, command, force=force, inputs=inputs)
    target = Path(os.path.abspath(directory))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(directory, exc) from None
    clean_stale(target.parent)
    with ExitStack() as stack:
        try:
            staging, _ = stack.enter_context(_staging(target.parent, target.name, as_file=False))
            out = staging / "out"
            out.mkdir(mode=0o700)
        except OSError as exc:
            raise _os_error(directory, exc) from None
        try:
            yield out
        except OSError as exc:
            raise _os_error(directory, exc) from None
        try:
            files = _private(out)
            files.pop(MARKER, None)
            (out / MARKER).write_text(json.dumps({"written_by": "sampler", "command": command, "files": files},
                                                 ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                      encoding="utf-8")
            os.chmod(out / MARKER, 0o600)
            check_output_directory(directory, command, force=force, inputs=inputs)
            if not target.exists():
                os.rename(out, target)
            elif not _exchange(out, target):  # exchanged: ``out`` now holds the earlier output
                os.rename(target, staging / "old")
                os.rename(out, target)
        except OSError as exc:
            raise _os_error(directory, exc) from None
        _clean_legacy(target.parent, target.name, set(files))


@contextmanager
def atomic_file(path: str | Path, command: str, *, force: bool = False, inputs: Iterable[str | Path] = (),
                recognise: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a private (0600) staging file beside ``path``; on success it replaces ``path``
    (``os.replace``), on error it is removed. Checks as in `check_output_file`."""
    inputs = list(inputs)
    check_output_file(path, command, force=force, inputs=inputs, recognise=recognise)
    target = Path(os.path.abspath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path, exc) from None
    clean_stale(target.parent)
    with ExitStack() as stack:
        try:
            tmp, _ = stack.enter_context(_staging(target.parent, target.name, as_file=True))
        except OSError as exc:
            raise _os_error(path, exc) from None
        try:
            yield tmp
        except OSError as exc:
            raise _os_error(path, exc) from None
        try:
            os.chmod(tmp, 0o600)
            check_output_file(path, command, force=force, inputs=inputs, recognise=recognise)
            os.replace(tmp, target)
        except OSError as exc:
            raise _os_error(path, exc) from None
