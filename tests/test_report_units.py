"""Memory in the unit that fits, in every format: 2.47 kB, not 0.00 MB; 6.89 GB, not 6,887.18 MB
(kB, MB, GB, TB = 10^3, 10^6, 10^9, 10^12 bytes by default; KiB, MiB, GiB with --units iec).
Expected figures are the arithmetic written here."""

from __future__ import annotations

import csv
import io
import json

import pytest

from helpers_nnc import nnc_in_process
from nnlang.report import fitted

# input 5, dense 103: (5 + 1) * 103 = 618 parameters; 618 * 4 bytes = 2,472 bytes = 2.472 kB = 2.414 KiB
SMALL = "model small {\n    input 5\n    dense 103 relu\n}\n"
SMALL_BYTES = (5 + 1) * 103 * 4
# input 50000, dense 34435: 50,001 * 34,435 = 1,721,784,435 parameters; * 4 bytes = 6,887,137,740 bytes
BIG = "model big {\n    input 50000\n    dense 34435\n}\n"
BIG_BYTES = 50_001 * 34_435 * 4


@pytest.mark.parametrize("count, units, text", [
    (0, "si", "0 B"),
    (40, "si", "40 B"),
    (999, "si", "999 B"),
    (1_000, "si", "1.00 kB"),
    (SMALL_BYTES, "si", "2.47 kB"),  # 2,472 / 10^3
    (999_994, "si", "999.99 kB"),
    (999_999, "si", "1.00 MB"),  # 999.999 kB would round to 1,000.00 kB
    (5_488_720, "si", "5.49 MB"),
    (BIG_BYTES, "si", "6.89 GB"),  # 6,887,137,740 / 10^9 = 6.887
    (3 * 10**12, "si", "3.00 TB"),
    (1_023, "iec", "1,023 B"),
    (1_024, "iec", "1.00 KiB"),
    (SMALL_BYTES, "iec", "2.41 KiB"),  # 2,472 / 2^10 = 2.414
    (2**20 - 1, "iec", "1.00 MiB"),  # 1,023.999 KiB would round to 1,024.00 KiB
    (5_488_720, "iec", "5.23 MiB"),  # 5,488,720 / 2^20 = 5.234
    (BIG_BYTES, "iec", "6.41 GiB"),  # 6,887,137,740 / 2^30 = 6.414
])
def test_the_unit_that_fits(count, units, text):
    assert fitted(count, units).text() == text


def _run(tmp_path, text: str, *options: str) -> str:
    path = tmp_path / "net.nn"
    path.write_text(text, encoding="utf-8")
    proc = nnc_in_process(path, *options)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html"])
@pytest.mark.parametrize("source, units, shown", [
    (SMALL, "si", "2.47 kB"), (SMALL, "iec", "2.41 KiB"), (BIG, "si", "6.89 GB"), (BIG, "iec", "6.41 GiB")])
def test_total_params_memory_in_every_format(tmp_path, fmt, source, units, shown):
    out = _run(tmp_path, source, "--format", fmt, "--units", units, "--no-diagram")
    assert f"({shown} at float32)" in out
    assert "0.00 MB" not in out and "0.00 MiB" not in out and ",887" not in out


def test_worked_parameter_memory_divides_by_the_unit_shown(tmp_path):
    out = _run(tmp_path, SMALL, "--explain")
    assert "Parameter memory: 618 x 4 bytes (float32) = 2,472 bytes = 2,472 / 10^3 = 2.47 kB" in out
    out = _run(tmp_path, BIG, "--explain", "--units", "iec")
    assert (f"Parameter memory: 1,721,784,435 x 4 bytes (float32) = {BIG_BYTES:,} bytes = {BIG_BYTES:,} / 2^30 = "
            "6.41 GiB") in out
    tiny = _run(tmp_path, "model tiny { input 4; dense 2 }", "--explain")  # (4 + 1) * 2 = 10 parameters, 40 bytes
    assert "Parameter memory: 10 x 4 bytes (float32) = 40 bytes\n" in tiny
    assert "Total params: 10 (40 B at float32)" in tiny


def test_memory_section_lines_each_in_their_unit(tmp_path):
    out = _run(tmp_path, SMALL, "--memory", "--batch", "1000")
    assert "Memory (float32; kB, MB, GB = 10^3, 10^6, 10^9 bytes)" in out
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line.startswith("  ")}
    # input 5 values x 4 bytes = 20 B; activations 103 values x 4 = 412 B; peak pair (5 + 103) x 1000 x 4
    assert " 20 B " in lines["input, one sample"]
    assert " 412 B " in lines["activations, one sample"]
    assert f" {(5 + 103) * 1000 * 4 / 10**3:,.2f} kB " in lines["inference, batch 1000: peak at dense_1"]
    big = _run(tmp_path, BIG, "--memory", "--optimizer", "adam")
    # training: parameters, gradients, 2 adam values per parameter, and (50,000 + 34,435) x 4 bytes of activations
    total = 4 * BIG_BYTES + (50_000 + 34_435) * 4
    assert f"{total / 10**9:,.2f} GB   sum of the lines above" in big


def test_output_memory_column_fits_each_row(tmp_path):
    out = _run(tmp_path, SMALL, "--columns", "layer,memory", "--batch", "10", "--ascii")
    # dense_1: 103 values x 10 samples x 4 bytes = 4,120 bytes
    assert "| dense_1 (dense, relu) |                 4.12 kB |" in out


def test_csv_and_json_keep_exact_bytes(tmp_path):
    out = _run(tmp_path, SMALL, "--format", "csv", "--memory")
    rows = list(csv.reader(io.StringIO(out.split("\n\n")[1])))
    assert rows[1][:3] == ["small", "parameters", str(SMALL_BYTES)]
    report = json.loads(_run(tmp_path, SMALL, "--format", "json"))
    assert report["models"][0]["totals"]["param_bytes"] == SMALL_BYTES
