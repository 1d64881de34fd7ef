"""Where nnc's reports, code and diagrams go: standard output, or the file named by `-o`.

Every command writes through :func:`write`. A regular file (or a new path) is replaced
atomically; anything else that already exists, such as a character device (`/dev/null`,
a terminal) or a FIFO, is written through as a shell's `>` would write to it, and stays
what it is. Only the standard library's light modules are imported at start-up; tempfile
and signal load when a file is replaced.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import sys

#: Text pieces are encoded and written in batches of about this many characters.
_BATCH = 2**16


class CannotWrite(Exception):
    """The output cannot be written; str() is the message for the user."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot write {shown(path)}: {reason}")


def shown(path) -> str:
    """PATH as it can be printed: control and other unprintable characters escaped."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path.isprintable():
        return path
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)


def write(data, path: str | None) -> None:
    """Write DATA (bytes, a string, or an iterable of strings) to standard output when PATH is
    None, else to PATH.

    - PATH naming nnc's own standard output or error (`/dev/stdout`, `/dev/fd/2`, the file that
      standard output is redirected to) writes to that stream, as if there were no `-o`.
    - A regular file, a new path, or a symbolic link to either is replaced atomically: a
      temporary file in the folder of the link's final target, renamed over the target (the link
      stays a link). The file keeps its permission bits (and, where allowed, its owner); a new
      file gets 0666 less the umask, as a shell's `>` would create it. Whatever fails, including
      an interrupt, SIGTERM or SIGHUP while it is written, the temporary file is removed.
    - Any other existing file (a character or block device, a FIFO, a terminal) is opened and
      written through; it is never replaced.

    Raises CannotWrite with the message for the user, or BrokenPipeError when the reader of a pipe
    has gone (see end_on_broken_pipe).
    """
    if path is None:
        _to_stream(sys.stdout, data, "standard output")
        return
    path = os.fspath(path)
    if not path or path.endswith(("/", os.sep)):
        raise CannotWrite(path, "Is a directory (name a file)" if path else "the path is empty")
    try:
        status = os.stat(path)
    except FileNotFoundError:
        status = None  # a new file; a dangling symbolic link is created where it points
    except OSError as error:
        raise CannotWrite(path, _reason(error, os.path.dirname(path))) from None
    if status is not None:
        for stream, descriptor in ((sys.stdout, 1), (sys.stderr, 2)):
            if _same_file(status, descriptor):
                _to_stream(stream, data, path)
                return
        if stat.S_ISDIR(status.st_mode):
            raise CannotWrite(path, "Is a directory (name a file inside it)")
        if not stat.S_ISREG(status.st_mode):
            if _write_through(path, data):
                return
            try:
                status = os.stat(path)  # it became a regular file since it was examined
            except OSError as error:
                raise CannotWrite(path, _reason(error)) from None
    _replace(path, data, status)


#: The exit status when the reader of the output goes away: what the command would have
#: ended with (1 when the file has errors and the report goes on regardless, as JSON does).
status_on_closed_pipe = 0


def end_on_broken_pipe():
    """The reader of a pipe nnc writes to has gone, as in `nnc FILE | head`: end at once and
    quietly, the same for every format, with the status the command would have had: the
    reader took what it wanted, which says nothing about the file. Never returns."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status_on_closed_pipe)  # not sys.exit: the interpreter's clean-up would flush stdout into the closed pipe again


# -- standard streams --------------------------------------------------------------------------------


def _same_file(status: os.stat_result, descriptor: int) -> bool:
    try:
        other = os.fstat(descriptor)
    except (OSError, ValueError):
        return False
    return (other.st_dev, other.st_ino) == (status.st_dev, status.st_ino)


def _to_stream(stream, data, name: str) -> None:
    """Write DATA to STREAM's binary layer, as UTF-8 (what a file gets). Every byte is written or
    an error raised: with PYTHONUNBUFFERED the text layer would drop what a short write left."""
    if stream is None:  # Python found the descriptor closed at start-up
        raise CannotWrite(name, "the stream is closed")
    try:
        stream.flush()
        binary = getattr(stream, "buffer", None)
        if binary is None:  # a text-only stream in place of sys.stdout (an embedding program's StringIO)
            stream.write(data.decode("utf-8", "replace") if isinstance(data, bytes) else "".join(data))
            stream.flush()
            return
        _write_all(binary.write, data)
        binary.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise CannotWrite(name, _reason(error)) from None


# -- files that are not replaced ---------------------------------------------------------------------


def _write_through(path: str, data) -> bool:
    """Write DATA into the existing non-regular file PATH; False (nothing written) if PATH names a
    regular file by the time it is opened."""
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)  # no O_CREAT: a device that has gone is an error, not a new file
    except OSError as error:
        raise CannotWrite(path, _reason(error)) from None
    try:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        _write_all(functools.partial(os.write, descriptor), data)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise CannotWrite(path, _reason(error)) from None
    finally:
        try:
            os.close(descriptor)
        except OSError:
            pass
    return True


# -- files that are replaced -------------------------------------------------------------------------


def _replace(path: str, data, status: os.stat_result | None) -> None:
    import tempfile

    target = os.path.realpath(path)  # through symbolic links: the link stays, its target is replaced
    folder, name = os.path.split(target)
    mode = stat.S_IMODE(status.st_mode) if status is not None else 0o666 & ~_umask()
    with _SignalGuard() as guard:
        temporary = None
        descriptor = -1
        try:
            held = guard.hold()
            try:
                descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            finally:
                guard.release(held)  # a signal held back meanwhile is handled here, with `temporary` known
            if status is not None and (status.st_uid, status.st_gid) != (_euid(), _egid()):
                try:  # root replacing another user's file: it stays theirs
                    os.fchown(descriptor, status.st_uid, status.st_gid)
                except (OSError, AttributeError):
                    pass
            if hasattr(os, "fchmod"):
                os.fchmod(descriptor, mode)  # mkstemp creates 0600
            else:
                os.chmod(temporary, mode)
            _write_all(functools.partial(os.write, descriptor), data)
            descriptor, closing = -1, descriptor
            os.close(closing)
            os.replace(temporary, target)
            temporary = None
        except BaseException as error:
            if descriptor >= 0:
                try:
                    os.close(descriptor)
                except OSError:
                    pass
            if temporary is not None:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
            if isinstance(error, OSError):
                raise CannotWrite(path, _reason(error, os.path.dirname(path), folder)) from None
            raise


class _Stopped(BaseException):
    """SIGTERM or SIGHUP arrived while a temporary file existed."""

    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


class _SignalGuard:
    """Keeps signals from leaving a temporary file behind. By default SIGTERM and SIGHUP end the
    process where it stands; inside the guard the first of them (or of SIGINT) raises an exception
    instead, so that the temporary is removed, and the signal is delivered again when the guard
    ends. Later signals are ignored until then, so the clean-up runs to its end. Signals that were
    ignored (nohup) or handled otherwise stay so; outside the main thread nothing changes."""

    def __enter__(self):
        import signal

        self.signal = signal
        self.saved = {}
        self.caught = None
        self.raised = False
        self.ending = False
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is None:
                continue
            current = signal.getsignal(number)
            if current is not (signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL):
                continue
            try:
                signal.signal(number, self._caught)
            except ValueError:  # not the main thread: Python handles signals there only
                break
            self.saved[number] = current
        self.masked = tuple(self.saved) if hasattr(signal, "pthread_sigmask") else ()
        return self

    def _caught(self, number, frame):
        if self.caught is not None:
            return
        self.caught = number
        if self.ending:
            return  # delivered again by __exit__, once the usual handlers are back
        self.raised = True
        if number == self.signal.SIGINT:
            raise KeyboardInterrupt
        raise _Stopped(number)

    def hold(self):
        """Hold the guarded signals back (they stay pending); returns what release() needs."""
        if self.masked:
            return self.signal.pthread_sigmask(self.signal.SIG_BLOCK, self.masked)
        return None

    def release(self, previous) -> None:
        if self.masked:
            self.signal.pthread_sigmask(self.signal.SIG_SETMASK, previous)

    def __exit__(self, kind, error, traceback):
        self.ending = True
        for number, handler in self.saved.items():
            self.signal.signal(number, handler)
        if self.caught is None or isinstance(error, KeyboardInterrupt):
            return False
        os.kill(os.getpid(), self.caught)  # by default, the end of the process, the temporary gone
        if self.raised:  # the write was abandoned, yet the process lives on
            raise SystemExit(128 + self.caught)
        return False


def _write_all(write, data) -> None:
    """Call WRITE (os.write on a descriptor, or a binary stream's write) until every byte of DATA
    is written: a short write (a signal, a pipe's reader leaving) is continued, never dropped."""
    for chunk in _encoded(data):
        view = memoryview(chunk)
        while view:
            written = write(view)
            if written is None:  # a non-blocking descriptor that cannot take more now
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
            view = view[written:]


def _encoded(data):
    if isinstance(data, bytes):
        yield data
        return
    if isinstance(data, str):
        yield data.encode("utf-8")
        return
    batch = []
    size = 0
    for piece in data:
        batch.append(piece)
        size += len(piece)
        if size >= _BATCH:
            yield "".join(batch).encode("utf-8")
            batch = []
            size = 0
    if batch:
        yield "".join(batch).encode("utf-8")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


def _egid() -> int:
    return os.getegid() if hasattr(os, "getegid") else -1


def _reason(error: OSError, *folders: str) -> str:
    """The reason to show for ERROR: its description, and which of FOLDERS (the one the user
    named, then the one a symbolic link leads to) is missing or not a folder."""
    reason = error.strerror or str(error)
    if error.errno not in (errno.ENOENT, errno.ENOTDIR):
        return reason
    from pathlib import Path  # an error's path only (start-up time)

    for folder in folders:
        folder_path = Path(folder or ".")
        for part in [*reversed(folder_path.parents), folder_path]:
            if not os.path.lexists(part):
                return f"{reason} (the folder {shown(part)} does not exist)"
            if not os.path.isdir(part):
                return f"{reason} ({shown(part)} is not a folder)"
    if folders and error.errno == errno.ENOENT:  # /proc, for one, has no room for new files
        return f"{reason} (no new file can be created in {shown(folders[-1] or '.')})"
    return reason
