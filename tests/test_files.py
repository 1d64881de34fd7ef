"""How nnc reads its input file and writes its output: devices, FIFOs, terminals, symbolic links,
permission bits, failures that leave nothing behind, closed pipes, and the input size limit.

No test names the machine's own /dev/null, /dev/full or /dev/stdout: a regression would replace
the device. As root, devices are made in tmp_path with mknod (Linux numbers: 1,3 is null, 1,5
zero, 1,7 full); without root, a pseudo-terminal stands in for the character device, and the
full device is imitated in-process.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import os
import select
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import tty

import pytest
from click.testing import CliRunner

from helpers_nnc import ROOT, assert_no_traceback, run_nnc
from nnlang import outputs, source
from nnlang.cli import cli
from nnlang.source import MAX_SOURCE_BYTES, UnreadableSource, read_source_bytes

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NULL, ZERO, FULL = (1, 3), (1, 5), (1, 7)
FORMATS = ("text", "json", "html", "csv", "markdown")
TINY = "model tiny {\n    input 28x28x1\n    conv2d 4 k=3 relu\n    flatten\n    dense 10 softmax\n}\n"
F_GETPIPE_SZ = 1032  # Linux fcntl: a pipe's capacity


def nnc(*args, **options) -> subprocess.CompletedProcess:
    """nnc as a process, with the test's own standard streams (binary)."""
    options.setdefault("timeout", 120)
    options.setdefault("cwd", str(ROOT))
    return subprocess.run([sys.executable, "-m", "nnlang", *map(str, args)], **options)


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.nn"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """3,000 dense layers: every report is several times a pipe's 64 KiB."""
    path = tmp_path_factory.mktemp("large") / "large.nn"
    path.write_text("model large {\n    input 64\n" + "    dense 64 relu\n" * 3000 + "}\n")
    return path


@functools.lru_cache(maxsize=None)
def expected_stdout(*args) -> bytes:
    proc = nnc(*args, capture_output=True)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


class Terminal:
    """A pseudo-terminal in raw mode (no \\n -> \\r\\n): its slave is a character device any user
    may open; a thread collects what is written to it."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.chunks = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.chunks.append(os.read(self.master, 65536))
                except OSError:
                    return
            elif self.stop.is_set():
                return

    def received(self) -> bytes:
        self.stop.set()
        self.thread.join(60)
        return b"".join(self.chunks)

    def close(self):
        self.stop.set()
        self.thread.join(60)
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def terminal():
    device = Terminal()
    yield device
    device.close()


def make_device(folder, name: str, numbers) -> str:
    path = os.path.join(folder, name)
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*numbers))
    return path


def assert_device(path, numbers) -> None:
    status = os.lstat(path)
    assert stat.S_ISCHR(status.st_mode), f"{path} is no longer a character device: {oct(status.st_mode)}"
    assert (os.major(status.st_rdev), os.minor(status.st_rdev)) == numbers


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


# -- writing through to devices, terminals and FIFOs ---------------------------------------------------

COMMANDS = {
    "summary": lambda model, out: [model, "-o", out],
    "json": lambda model, out: [model, "--format", "json", "-o", out],
    "export": lambda model, out: ["export", model, "--to", "pytorch", "-o", out],
    "diagram": lambda model, out: ["diagram", model, "-o", out],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_character_device_is_written_through_and_stays_a_device(command, tiny, tmp_path, terminal):
    if AS_ROOT:
        device = make_device(tmp_path, "null.dot", NULL)  # .dot: nnc diagram picks the format by the extension
        proc = nnc(*COMMANDS[command](tiny, device), capture_output=True)
        assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b"", proc.stderr
        assert_device(device, NULL)
        os.unlink(device)
    # a terminal is a character device too, and receives what standard output would have carried
    target = terminal.path
    if command == "diagram":
        target = tmp_path / "screen.dot"
        target.symlink_to(terminal.path)
    proc = nnc(*COMMANDS[command](tiny, target), capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b"", proc.stderr
    stdout_args = [a for a in COMMANDS[command](tiny, "OUT") if a not in ("-o", "OUT")]
    assert terminal.received() == expected_stdout(*stdout_args)
    assert stat.S_ISCHR(os.stat(terminal.path).st_mode)
    assert listing(tmp_path) == (["screen.dot", "tiny.nn"] if command == "diagram" else ["tiny.nn"])


def test_a_full_device_is_status_2_with_one_line(tiny, tmp_path, monkeypatch):
    if AS_ROOT:
        device = make_device(tmp_path, "full", FULL)
        for args in ([tiny, "-o", device], [tiny, "--format", "json", "-o", device],
                     ["export", tiny, "--to", "keras", "-o", device]):
            proc = nnc(*args, capture_output=True, text=True)
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr == f"nnc: error: cannot write {device}: No space left on device\n"
            assert_device(device, FULL)
        with open(device, "wb") as full:  # standard output itself on the full device: `nnc FILE > /dev/full`
            proc = nnc(tiny, stdout=full, stderr=subprocess.PIPE, text=True)
        assert proc.returncode == 2
        assert proc.stderr == "nnc: error: cannot write standard output: No space left on device\n"
        assert_device(device, FULL)
        assert listing(tmp_path) == ["full", "tiny.nn"]
    else:  # no device can be made without root: the same failure of write(2), in-process, on a terminal
        real_write = os.write

        def full(descriptor, data):
            if descriptor > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(descriptor, data)

        device = Terminal()
        try:
            monkeypatch.setattr(os, "write", full)
            result = CliRunner().invoke(cli, [str(tiny), "-o", device.path])
            monkeypatch.undo()
        finally:
            device.close()
        assert result.exit_code == 2
        assert result.stderr == f"nnc: error: cannot write {device.path}: No space left on device\n"


class FifoReader:
    """A FIFO in tmp_path read by a thread: everything, or only its first byte before closing."""

    def __init__(self, path, first_byte_only: bool = False):
        self.path = str(path)
        os.mkfifo(self.path)
        self.data = None
        self.first_byte_only = first_byte_only
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        with open(self.path, "rb", buffering=0) as fifo:  # blocks until nnc opens the other end
            if self.first_byte_only:
                self.data = fifo.read(1)
                return
            chunks = []
            while chunk := fifo.read(65536):
                chunks.append(chunk)
            self.data = b"".join(chunks)

    def result(self) -> bytes:
        self.thread.join(120)
        if self.thread.is_alive():  # nnc never opened it: release the thread, then fail
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            self.thread.join(60)
            raise AssertionError("nnc did not write to the FIFO")
        return self.data


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_fifo_is_written_through_and_stays_a_fifo(fmt, tiny, tmp_path):
    reader = FifoReader(tmp_path / "pipe")
    proc = nnc(tiny, "--format", fmt, "-o", reader.path, capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b"", proc.stderr
    assert reader.result() == expected_stdout(tiny, "--format", fmt)
    assert stat.S_ISFIFO(os.lstat(reader.path).st_mode)
    assert listing(tmp_path) == ["pipe", "tiny.nn"]


def test_a_fifo_whose_reader_leaves_ends_as_a_closed_standard_output_does(large, tmp_path):
    reader = FifoReader(tmp_path / "pipe", first_byte_only=True)
    proc = nnc(large, "--format", "json", "-o", reader.path, capture_output=True)
    assert reader.result() == b"{"
    assert proc.returncode == 0 and proc.stderr == b""
    assert stat.S_ISFIFO(os.lstat(reader.path).st_mode)
    assert listing(tmp_path) == ["pipe"]


def test_a_link_to_standard_output_writes_to_standard_output(tiny, tmp_path):
    link = tmp_path / "stdout"  # what /dev/stdout is on Linux
    link.symlink_to("/proc/self/fd/1")
    proc = nnc(tiny, "-o", link, capture_output=True)  # standard output is a pipe
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected_stdout(tiny)
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    log = tmp_path / "log.txt"  # standard output appended to a regular file: appended to, not replaced
    log.write_bytes(b"before\n")
    with open(log, "ab") as appended:
        proc = nnc(tiny, "--format", "csv", "-o", link, stdout=appended, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr
    assert log.read_bytes() == b"before\n" + expected_stdout(tiny, "--format", "csv")
    assert listing(tmp_path) == ["log.txt", "stdout", "tiny.nn"]


# -- replacing regular files -----------------------------------------------------------------------


def test_a_link_to_a_file_stays_a_link_and_its_target_keeps_its_mode(tiny, tmp_path):
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    target = elsewhere / "report.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    if AS_ROOT:
        os.chown(target, 1234, 4321)  # another user's file stays theirs
    link = tmp_path / "latest.txt"
    link.symlink_to(os.path.join("reports", "report.txt"))  # relative, as `ln -s` makes them
    proc = nnc(tiny, "-o", link, capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b"", proc.stderr
    assert link.is_symlink() and os.readlink(link) == os.path.join("reports", "report.txt")
    assert target.read_bytes() == expected_stdout(tiny)
    status = os.stat(target)
    assert stat.S_IMODE(status.st_mode) == 0o640
    if AS_ROOT:
        assert (status.st_uid, status.st_gid) == (1234, 4321)
    assert listing(tmp_path) == ["latest.txt", "reports", "tiny.nn"]
    assert listing(elsewhere) == ["report.txt"]  # the temporary was made beside the target, and is gone


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o664])
def test_an_existing_file_keeps_its_mode(mode, tiny, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("{}")
    os.chmod(target, mode)
    proc = nnc("export", tiny, "--to", "keras", "-o", target, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
    assert target.read_bytes() == expected_stdout("export", tiny, "--to", "keras")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_a_new_file_gets_0666_less_the_umask(umask, mode, tiny, tmp_path):
    assert 0o666 & ~umask == mode  # rw-rw-rw- less the umask's bits
    target = tmp_path / "new.md"
    proc = nnc(tiny, "--format", "markdown", "-o", target, capture_output=True, umask=umask)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
    assert listing(tmp_path) == ["new.md", "tiny.nn"]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "csv", "latex", "html", "equation"])
def test_the_file_holds_exactly_what_standard_output_carries(fmt, tmp_path):
    chain = tmp_path / "chain.nn"  # a chain, so that --format equation has a formula to write
    chain.write_text("model chain {\n    input 8\n    dense 4 relu\n    dense 2 softmax\n}\n")
    target = tmp_path / f"out.{fmt}"
    proc = nnc(chain, "--format", fmt, "-o", target, capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b"", proc.stderr
    assert target.read_bytes() == expected_stdout(chain, "--format", fmt)


def test_json_with_errors_is_written_to_the_file_as_to_standard_output(tmp_path):
    bad = tmp_path / "bad.nn"
    bad.write_text("model m { input 4; dense 0 }\n")
    target = tmp_path / "r.json"
    proc = nnc(bad, "--format", "json", "-o", target, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "error[E104]" in proc.stderr
    written = target.read_bytes()
    assert written == nnc(bad, "--format", "json", capture_output=True).stdout
    codes = [d["code"] for d in json.loads(written)["diagnostics"]]
    assert codes == ["E104"]
    for fmt in ("text", "csv"):  # no report on standard output: nothing written either
        proc = nnc(bad, "--format", fmt, "-o", tmp_path / f"r.{fmt}", capture_output=True)
        assert proc.returncode == 1 and proc.stdout == b""
    assert listing(tmp_path) == ["bad.nn", "r.json"]


# -- outputs that cannot be written: status 2, a message, nothing left behind ---------------------------


def assert_cannot_write(proc, shown_path, reason: str) -> None:
    assert_no_traceback(proc)
    assert proc.returncode == 2, proc.stderr
    assert "E900" not in proc.stderr
    assert proc.stderr.startswith(f"nnc: error: cannot write {shown_path}: "), proc.stderr
    assert reason in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.parametrize("command", ["summary", "json", "export", "diagram"])
def test_a_missing_folder_is_status_2(command, tiny, tmp_path):
    proc = run_nnc(*COMMANDS[command](tiny, tmp_path / "missing" / "deeper" / "out.dot"))
    assert_cannot_write(proc, tmp_path / "missing" / "deeper" / "out.dot",
                        f"No such file or directory (the folder {tmp_path / 'missing'} does not exist)")
    assert listing(tmp_path) == ["tiny.nn"]


@pytest.mark.parametrize("command", ["summary", "json", "export", "diagram"])
def test_a_file_taken_for_a_folder_is_status_2(command, tiny, tmp_path):
    proc = run_nnc(*COMMANDS[command](tiny, tmp_path / "tiny.nn" / "out.dot"))
    assert_cannot_write(proc, tmp_path / "tiny.nn" / "out.dot", f"Not a directory ({tiny} is not a folder)")
    assert tiny.read_text() == TINY and listing(tmp_path) == ["tiny.nn"]


@pytest.mark.parametrize("command", ["summary", "json", "export", "diagram"])
def test_a_folder_as_the_target_is_status_2(command, tiny, tmp_path):
    folder = tmp_path / "folder.dot"
    folder.mkdir()
    for target in (folder, f"{tmp_path / 'new.dot'}{os.sep}"):
        proc = run_nnc(*COMMANDS[command](tiny, target))
        assert_no_traceback(proc)
        assert proc.returncode == 2 and "E900" not in proc.stderr
        assert "is a directory" in proc.stderr.lower(), proc.stderr
    assert listing(tmp_path) == ["folder.dot", "tiny.nn"] and listing(folder) == []


def test_a_folder_where_no_file_can_be_created_is_status_2(tiny):
    # root may write anywhere a permission check would stop others; /proc takes no new file from anyone
    proc = run_nnc(tiny, "-o", "/proc/version")
    assert_cannot_write(proc, "/proc/version", "no new file can be created in /proc")


def test_a_refused_rename_leaves_the_file_and_no_temporary(tiny, tmp_path, monkeypatch):
    target = tmp_path / "report.txt"
    target.write_text("old\n")

    def refuse(source, destination):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(destination))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(outputs.CannotWrite) as raised:
        outputs.write("new\n", str(target))
    assert str(raised.value) == f"cannot write {target}: Permission denied"
    result = CliRunner().invoke(cli, [str(tiny), "-o", str(target)])
    assert result.exit_code == 2
    assert result.stderr == f"nnc: error: cannot write {target}: Permission denied\n"
    assert target.read_text() == "old\n"
    assert listing(tmp_path) == ["report.txt", "tiny.nn"]


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_failure_while_writing_leaves_no_temporary(failure, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def pieces():
        yield "a" * 100_000
        raise failure("stop")

    with pytest.raises(failure):
        outputs.write(pieces(), str(target))
    with pytest.raises(failure):
        outputs.write(pieces(), str(tmp_path / "new.json"))
    assert target.read_text() == "old\n"
    assert listing(tmp_path) == ["report.json"]


CHILD = textwrap.dedent("""
    import os, signal, sys
    from nnlang.outputs import write

    # as a terminal's process starts: the signal acts (a parent such as nohup may have ignored it)
    if signal.{name} == signal.SIGINT:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    elif signal.{name} != signal.SIGPIPE:
        signal.signal(signal.{name}, signal.SIG_DFL)

    def pieces():
        yield "a" * 100_000
        os.kill(os.getpid(), signal.{name})
        yield "b" * 100_000

    write(pieces(), sys.argv[1])
    print("written")
""")


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT", "SIGPIPE"])
def test_a_signal_while_writing_leaves_no_temporary(name, tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old\n")
    proc = subprocess.run([sys.executable, "-c", CHILD.format(name=name), str(target)], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=120)
    if name == "SIGPIPE":  # ignored by Python: the write goes on to the end
        assert proc.returncode == 0 and proc.stdout == "written\n", proc.stderr
        assert target.read_text() == "a" * 100_000 + "b" * 100_000
    else:  # the process ends as the signal ends it (SIGINT through KeyboardInterrupt), the file untouched
        assert proc.returncode == -getattr(signal, name), proc.stderr
        assert ("KeyboardInterrupt" in proc.stderr) == (name == "SIGINT")
        assert target.read_text() == "old\n"
    assert listing(tmp_path) == ["report.txt"]


def test_an_interrupt_is_status_130_not_1(tiny, tmp_path, monkeypatch):
    from nnlang.emit import text

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(text, "render", interrupted)
    result = CliRunner().invoke(cli, [str(tiny), "-o", str(tmp_path / "out.txt")])
    assert result.exit_code == 130 and result.stderr == "nnc: interrupted\n"
    assert listing(tmp_path) == ["tiny.nn"]


# -- reading the input ---------------------------------------------------------------------------------


def bounded_memory():
    """In the child: at most 4 GiB of address space, so that a regression reading without bound
    fails fast instead of exhausting the machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


def read_input(*args) -> subprocess.CompletedProcess:
    return nnc(*args, capture_output=True, text=True, timeout=60, preexec_fn=bounded_memory)


def assert_cannot_read(proc, path, reason: str) -> None:
    assert_no_traceback(proc)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == f"nnc: error: cannot read {path}: {reason}\n"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "input.nn"
    os.mkfifo(fifo)
    proc = read_input(fifo)  # a read would wait forever: nobody writes to it
    assert_cannot_read(proc, fifo, "not a regular file (a FIFO)")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_character_device_is_refused_without_reading_it(tmp_path, terminal):
    devices = [terminal.path]  # reading a terminal nobody types into would wait forever
    if AS_ROOT:
        devices.append(make_device(tmp_path, "zero.nn", ZERO))  # reading it would never end
    for device in devices:
        for args in ([device], ["check", device], ["export", device, "--to", "pytorch"],
                     ["diagram", device]):
            proc = read_input(*args)
            assert_cannot_read(proc, device, "not a regular file (a character device)")
    if AS_ROOT:
        assert_device(devices[1], ZERO)


def test_a_folder_is_refused(tmp_path):
    proc = run_nnc(tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 2 and proc.stderr == f"nnc: error: cannot read {tmp_path}: not a regular file (a folder)\n"
    with pytest.raises(UnreadableSource, match=r"not a regular file \(a folder\)"):
        read_source_bytes(str(tmp_path))


def test_a_file_above_the_limit_is_refused(tmp_path):
    assert MAX_SOURCE_BYTES == 16 * 1024 * 1024
    big = tmp_path / "big.nn"
    with open(big, "wb") as file:
        file.truncate(MAX_SOURCE_BYTES + 1)  # sparse: no disk space used
    proc = read_input(big)
    assert_cannot_read(proc, big, "the file is larger than 16 MiB (16,777,216 bytes), the limit for a .nn file")
    with open(big, "wb") as file:
        file.truncate(MAX_SOURCE_BYTES)
    assert len(read_source_bytes(str(big))) == MAX_SOURCE_BYTES  # the limit itself is allowed


def test_a_file_growing_while_read_is_bounded(tmp_path, monkeypatch):
    grown = tmp_path / "grown.nn"
    with open(grown, "wb") as file:
        file.truncate(MAX_SOURCE_BYTES + 100_000)
    real_stat, real_fstat, real_read = os.stat, os.fstat, os.read
    read = []

    def as_if_small(status):
        fields = list(status)
        fields[stat.ST_SIZE] = 10  # the size when it was examined
        return os.stat_result(fields)

    monkeypatch.setattr(os, "stat", lambda path, *a, **k: as_if_small(real_stat(path, *a, **k)))
    monkeypatch.setattr(os, "fstat", lambda descriptor: as_if_small(real_fstat(descriptor)))
    monkeypatch.setattr(os, "read", lambda descriptor, size: read.append(size) or real_read(descriptor, size))
    with pytest.raises(UnreadableSource, match="larger than 16 MiB"):
        source.read_source_bytes(str(grown))
    monkeypatch.undo()
    assert sum(read) <= MAX_SOURCE_BYTES + 1


def test_a_regular_file_that_reports_no_size_is_read_whole():
    data = read_source_bytes("/proc/self/status")  # /proc files report size 0
    assert data.startswith(b"Name:") and data.endswith(b"\n")


# -- a closed pipe: the same end for every format ------------------------------------------------------


@pytest.mark.parametrize("unbuffered", [True, False], ids=["PYTHONUNBUFFERED", "buffered"])
def test_a_reader_leaving_early_ends_every_format_alike(unbuffered, large):
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        environment["PYTHONUNBUFFERED"] = "1"
    statuses = {}
    for fmt in FORMATS:
        process = subprocess.Popen([sys.executable, "-m", "nnlang", str(large), "--format", fmt], cwd=str(ROOT),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=environment)
        capacity = fcntl.fcntl(process.stdout.fileno(), F_GETPIPE_SZ)
        assert process.stdout.read(1)  # `head -c1`: one byte, then the pipe is closed
        process.stdout.close()
        statuses[fmt] = process.wait(120)
        assert process.stderr.read() == b"", fmt
        process.stderr.close()
        assert len(expected_stdout(large, "--format", fmt)) > 2 * capacity, fmt  # it could not all fit
    assert statuses == {fmt: 0 for fmt in FORMATS}


def test_a_json_report_of_a_file_with_errors_keeps_status_1_when_the_reader_leaves(tmp_path):
    """The reader going away says nothing about the file: its errors still give status 1."""
    bad = tmp_path / "bad.nn"
    bad.write_text("model m {\n  input 4\n" + "  dense 4\n" * 20_000 + "  dense 0\n}\n", encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "nnlang", str(bad), "--format", "json"], cwd=str(ROOT),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert process.stdout.read(1) == b"{"
    process.stdout.close()
    assert process.wait(120) == 1
    assert b"E104" in process.stderr.read()
    process.stderr.close()


def test_a_pipe_closed_before_the_start_ends_every_command_alike(tiny):
    statuses = {}
    runs = {fmt: [tiny, "--format", fmt] for fmt in FORMATS}
    runs.update({"check": ["check", tiny], "explain": ["explain", "E302"], "diagram": ["diagram", tiny],
                 "export": ["export", tiny, "--to", "pytorch"], "help": ["--help"]})
    for name, args in runs.items():
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = nnc(*args, stdout=write_end, stderr=subprocess.PIPE)
        finally:
            os.close(write_end)
        statuses[name] = proc.returncode
        assert proc.stderr == b"", name
    assert statuses == {name: 0 for name in runs}


def test_a_path_is_shown_with_its_control_characters_escaped(tiny, tmp_path):
    odd = tmp_path / "a\x1b[31mb\nc"
    proc = run_nnc(tiny, "-o", odd / "out.txt")
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and proc.stderr.count("\n") == 1
    assert f"cannot write {tmp_path}/a\\x1b[31mb\\nc/out.txt: " in proc.stderr
    proc = run_nnc(odd)
    assert proc.returncode == 2 and "\x1b" not in proc.stderr
