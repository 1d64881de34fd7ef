"""Benchmark of nnc: start-up, the zoo, generated networks of growing size, phases.

    python bench/run.py [--runs N] [--sizes 1000,10000,100000] [--quick]

Prints, for each case, the median and spread (min-max) of wall time and the
peak resident memory over several cold runs, then the time per layer of
generated networks (it must stay flat: no quadratic step), the split by phase
inside one process, and, when PyTorch (and torchinfo) are installed, the time
the frameworks take to answer the same question for the zoo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: The installed `nnc` script beside this interpreter (what users run), else `python -m nnlang`.
_SCRIPT = Path(sys.executable).parent / "nnc"
NNC = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "nnlang"]
ZOO = ["googlenet", "inception_naive_vs_bottleneck", "resnet18", "resnet50", "vgg16", "alexnet", "mobilenet_v1",
       "lenet5"]


def run_cold(argv: list[str], runs: int) -> tuple[list[float], int]:
    """Wall times of `runs` fresh processes and their largest peak RSS in KB."""
    times, peak = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} failed: {process.stderr.read().decode()[-500:]}")
        process.stderr.close()
        peak = max(peak, usage.ru_maxrss)
    return times, peak


def describe(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:8.1f} ms  ({min(times) * 1000:.1f}-{max(times) * 1000:.1f})"


def chain(layers: int) -> str:
    return f"model chain {{\n    input 64\n    repeat {layers} {{ dense 64 relu }}\n}}\n"


def written_chain(layers: int) -> str:
    """A chain written out line by line, as a generator script would: convolutions and batch norms."""
    lines = ["    conv2d 16 k=3 pad=same relu" if i % 2 == 0 else "    batchnorm" for i in range(layers - 1)]
    return "model written {\n    input 32x32x16\n" + "\n".join(lines) + "\n}\n"


#: Inception-like blocks nested three levels: 10 layers per call of `outer`.
NESTED_BLOCKS = (
    "block inner(c) {\n    add {\n        branch { conv2d c k=1; batchnorm }\n        branch {}\n    }\n}\n"
    "block middle(c) {\n    concat {\n        branch a { inner(c) }\n        branch b { conv2d c k=3 pad=same; "
    "inner(c) }\n    }\n    conv2d c k=1\n}\n"
    "block outer(c) {\n    middle(c)\n    activation relu\n}\n"
)


def written_branches(layers: int) -> str:
    """The nested blocks, each call written on its own line."""
    calls = max(1, layers // 10)
    return NESTED_BLOCKS + "model nested {\n    input 8x8x16\n" + "    outer(16)\n" * calls + "}\n"


def branches(layers: int) -> str:
    """The nested blocks, called by a repeat."""
    calls = max(1, layers // 10)
    return NESTED_BLOCKS + f"model nested {{\n    input 8x8x16\n    repeat {calls} {{ outer(16) }}\n}}\n"


def phases(path: Path) -> dict:
    """Seconds spent parsing, expanding and inferring, and writing the JSON report, in this process."""
    import gc

    sys.path.insert(0, str(ROOT))
    from nnlang.compiler import compile_file
    from nnlang.diagnostics import DiagnosticBag
    from nnlang.emit import json as emit_json
    from nnlang.parser import _lark, parse
    from nnlang.report import Options
    from nnlang.source import Source

    _lark()
    gc.disable()
    source = Source(path.read_text(), str(path))
    bag = DiagnosticBag()
    t0 = time.perf_counter()
    tree = parse(source, bag)
    t1 = time.perf_counter()
    program = compile_file(tree, bag)
    t2 = time.perf_counter()
    emit_json.render(program, bag, Options(), source.name)
    t3 = time.perf_counter()
    gc.enable()
    return {"parse": t1 - t0, "expand+shapes": t2 - t1, "report (json)": t3 - t2,
            "layers": sum(len(m.layers) for m in program.models)}


def phases_apart(path: Path) -> dict:
    """phases() in a fresh process: the memory of one case never counts towards the next."""
    import json

    done = subprocess.run([sys.executable, __file__, "--phases", str(path)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


def frameworks(runs: int) -> None:
    """Build the zoo in PyTorch (the exported code) and count with torchinfo and FlopCounterMode."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("  PyTorch is not installed: skipped")
        return
    try:
        import torchinfo  # noqa: F401
        have_torchinfo = True
    except ImportError:
        have_torchinfo = False
        print("  torchinfo is not installed: FlopCounterMode only")
    nnc = NNC
    with tempfile.TemporaryDirectory() as folder:
        for name in ZOO:
            example = EXAMPLES / f"{name}.nn"
            if not example.exists():
                continue
            code = Path(folder) / f"{name}_torch.py"
            export = subprocess.run(nnc + ["export", str(example), "--to", "pytorch", "-o", str(code)],
                                    capture_output=True, text=True, cwd=ROOT)
            if export.returncode != 0:
                print(f"  {name:34s} export failed: {export.stderr.strip()[:120]}")
                continue
            script = (
                "import sys, time, torch\n"
                f"sys.path.insert(0, {folder!r})\n"
                f"import {name}_torch as m\n"
                "cls = [v for v in vars(m).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)"
                " and v.__module__ == m.__name__][-1]\n"
                "model = cls()\n"
                "shape = getattr(m, 'INPUT_SHAPES', {}).get(cls.__name__) or m.INPUT_SHAPE\n"
                "x = torch.zeros(1, *shape)\n"
                "from torch.utils.flop_counter import FlopCounterMode\n"
                "with torch.no_grad(), FlopCounterMode(display=False) as counter:\n"
                "    model(x)\n"
                + ("from torchinfo import summary\nsummary(model, input_data=x, verbose=0)\n" if have_torchinfo
                   else "")
            )
            try:
                times, peak = run_cold([sys.executable, "-c", script], runs)
            except SystemExit as failure:
                print(f"  {name:34s} the framework run failed: {str(failure).splitlines()[-1][:100]}")
                continue
            ours, _ = run_cold(nnc + [str(example)], runs)
            ratio = statistics.median(times) / statistics.median(ours)
            print(f"  {name:34s} {describe(times)}  {peak / 1024:7.1f} MB   nnc {statistics.median(ours) * 1000:.0f} ms:"
                  f" {ratio:4.1f}x faster")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--quick", action="store_true", help="3 runs, sizes up to 10k, no frameworks")
    parser.add_argument("--phases", metavar="FILE", help=argparse.SUPPRESS)  # one case's split, as JSON
    args = parser.parse_args()
    if args.phases:
        import json

        print(json.dumps(phases(Path(args.phases))))
        return
    runs = 3 if args.quick else args.runs
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes = [s for s in sizes if s <= 10000]
    nnc = NNC
    env_note = "" if os.environ.get("PYTHONDONTWRITEBYTECODE") != "1" else "  (PYTHONDONTWRITEBYTECODE=1: slower)"
    print(f"nnc benchmark: {runs} cold runs per case, median (min-max), peak RSS{env_note}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print()
    print("start-up floor")
    floor = {}
    for label, argv in [("python -c pass", [sys.executable, "-c", "pass"]),
                        ("python -c 'import lark'", [sys.executable, "-c", "import lark"])]:
        times, peak = run_cold(argv, runs)
        floor[label] = statistics.median(times)
        print(f"  {label:34s} {describe(times)}  {peak / 1024:7.1f} MB")
    print()
    print("nnc on the zoo (text report)")
    ratios: dict = {}  # example -> cold time / import lark
    largest: dict = {}  # shape -> (layers, seconds, MB) of its largest size
    per_layers: dict = {}  # shape -> us/layer at each size
    for name in ZOO:
        example = EXAMPLES / f"{name}.nn"
        if example.exists():
            times, peak = run_cold(nnc + [str(example)], runs)
            ratio = statistics.median(times) / floor["python -c 'import lark'"]
            ratios[name] = ratio
            print(f"  {name:34s} {describe(times)}  {peak / 1024:7.1f} MB  {ratio:4.2f}x import lark")
    print()
    print("generated networks to JSON (cold process)")
    with tempfile.TemporaryDirectory() as folder:
        for shape, make in [("chain (repeat)", chain), ("chain (written)", written_chain),
                            ("branches (repeat)", branches), ("branches (written)", written_branches)]:
            for size in sizes:
                path = Path(folder) / f"{''.join(c for c in shape if c.isalnum())}_{size}.nn"
                path.write_text(make(size))
                out = Path(folder) / "out.json"
                times, peak = run_cold(nnc + [str(path), "--format", "json", "-o", str(out)], max(1, runs // 2))
                split = phases_apart(path)
                # the compiler's own work per layer, start-up excluded: it must stay flat as sizes grow
                per_layer = (split["parse"] + split["expand+shapes"] + split["report (json)"]) / split["layers"] * 1e6
                largest[shape] = (split["layers"], statistics.median(times), peak / 1024)
                per_layers.setdefault(shape, []).append(per_layer)
                print(f"  {shape:18s} {split['layers']:>7,} layers {describe(times)}  {peak / 1024:7.1f} MB  "
                      f"{per_layer:6.1f} us/layer  (parse {split['parse']:.2f} s, expand+shapes "
                      f"{split['expand+shapes']:.2f} s, json {split['report (json)']:.2f} s in one process)")
    print()
    print("targets")
    if "googlenet" in ratios:
        verdict = "met" if ratios["googlenet"] <= 2 else "NOT met"
        print(f"  nnc examples/googlenet.nn cold <= 2x import lark: {ratios['googlenet']:.2f}x  {verdict}")
    for shape, (layers, seconds, megabytes) in largest.items():
        if layers >= 99_000:
            verdict = "met" if seconds < 5 and megabytes < 500 else "NOT met"
            print(f"  {shape:18s} {layers:,} layers to JSON < 5 s and < 500 MB: {seconds:.2f} s, {megabytes:.0f} MB"
                  f"  {verdict}")
    for shape, values in per_layers.items():
        if len(values) > 1:
            print(f"  {shape:18s} time per layer, largest / smallest size: {values[-1] / values[0]:.2f} "
                  "(flat is about 1)")
    if not args.quick:
        print()
        print("the same questions answered by building the model in PyTorch (exported by nnc) and counting"
              + (" with torchinfo.summary and" if _has("torchinfo") else "") + " FlopCounterMode, cold process")
        frameworks(max(1, runs // 2))


if __name__ == "__main__":
    main()
