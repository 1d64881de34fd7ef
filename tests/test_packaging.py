"""`pip install .` gives a working nnc: the wheel carries the grammar and the console script."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Hang guards (seconds): building and installing the wheel takes a few seconds, a run of nnc
#: well under one.
PIP_TIMEOUT = 600
RUN_TIMEOUT = 120


def test_wheel_ships_the_grammar_and_runs_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    (wheel,) = wheels.glob("nnlang-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "nnlang/grammar/nn.lark" in names
    assert any(n.endswith("entry_points.txt") for n in names)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    example = tmp_path / "m.nn"
    example.write_text("model m { input 28x28x3; conv2d 32 k=5 pad=same -> 28x28x32 params=2432 }\n")
    env = dict(os.environ, PYTHONPATH=str(target))
    # run from elsewhere so that the checkout's own nnlang/ and grammar/ cannot be picked up
    proc = subprocess.run([sys.executable, str(target / "bin" / "nnc"), str(example)], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "2,432" in proc.stdout
    where = subprocess.run([sys.executable, "-c", "import nnlang; print(nnlang.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=RUN_TIMEOUT).stdout
    assert where.startswith(str(target))
