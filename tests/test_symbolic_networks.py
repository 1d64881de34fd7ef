"""Compiling with open sizes, then evaluating, gives what compiling with the sizes written in gives.

Hundreds of generated networks (tests/gen_networks.py: convolutions with every padding, strides,
dilations and groups, depthwise, separable and transposed convolutions, poolings with strides,
padding and ceil mode, upsampling, zero padding, branches, flatten and dense heads, 1-D layers,
recurrent layers and embeddings on sequences) are compiled with their input's sizes open
(`input ?x?x3`: H and W). For several values of the sizes, each network is compiled again with the
values written into its input, and every number of the JSON report is compared: each layer's
output shape, parameters, MACs and pooling operations, the block and branch totals, the model's
totals and every memory line's values and bytes. A symbolic number is the `expr` of its JSON
object evaluated with the sizes bound (no builtins) and its `text` evaluated with exact rational
arithmetic; the expected number is the concrete compilation's integer, computed by the
arithmetic on plain integers without any symbolic sizes.

Value sets where the concrete network is invalid (a layer's window larger than its input) are
left out; the generator keeps them rare and the last test checks how many were used. A network
that makes nnc crash, that compiles with the values but not with open sizes (other than E205's
"no single formula", which is counted and bounded), or whose two reports differ fails the test of
its kind, which shows, for each path that differs, the smallest network (statements and branches
left out one at a time) that still differs there.
"""

from __future__ import annotations

import json
import math
import random
import re
import traceback
from dataclasses import dataclass, field
from fractions import Fraction

import pytest

from gen_networks import MIN_SIZE, Network, generate

from nnlang.driver import compile_text
from nnlang.emit import json as emit_json
from nnlang.report import Options
from nnlang.symbolic import python_name

NETWORKS = 500  # generated networks, seeds 0 .. NETWORKS - 1
VALUE_SETS = 3  # values of the open sizes from MIN_SIZE to MAX_SIZE tried per network, and one below
MAX_SIZE = 300
NO_BUILTINS = {"__builtins__": {}}
#: keys whose value is text for people (formulas, explanations, the peak's layer): not numbers
TEXT_KEYS = {"formulas", "how", "label", "layer"}
#: keys whose text may show an open size (a globally pooled kernel `HxW`), compared where it shows numbers
SHAPE_TEXT_KEYS = {"kernel", "padding"}
SHOWN = 2  # failing networks shrunk and shown per kind of failure


def report(text: str, options: Options):
    """The JSON report of `text` and its error diagnostics; a crash is a Crash."""
    try:
        compilation = compile_text(text, "net.nn", options.convention)
        document = json.loads(emit_json.render(compilation.program, compilation.diagnostics, options, "net.nn"))
    except Exception as error:  # noqa: BLE001 - any exception escaping the compiler is the finding
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise Crash(f"{type(error).__name__}: {error} (at {where.filename}:{where.lineno})") from None
    errors = [d for d in document["diagnostics"] if d["severity"] == "error"]
    if any(d["code"] == "E900" for d in errors):
        raise Crash("internal error E900: " + "; ".join(d["message"] for d in errors))
    return document, errors


# --- evaluating the symbolic numbers -----------------------------------------------------------

def is_expression(value) -> bool:
    return isinstance(value, dict) and set(value) == {"expr", "text"}


#: the expr contract: integer literals, names, parentheses, + - * // ** and spaces
EXPR_FORM = re.compile(r"(?:[0-9A-Za-z_ +\-*()]|//)*")


def evaluate_expr(expr: str, env: dict):
    """The value of `expr` with the sizes bound and no builtins; None when it is not of the contract's form."""
    if not EXPR_FORM.fullmatch(expr):
        return None
    return eval(expr, NO_BUILTINS, env)  # noqa: S307 - integer arithmetic over the bound sizes only


def evaluate_text(text: str, env: dict):
    """`text` as people read it (floor(), ceil(), /, ^, ?N names, 1,234 separators) in exact rational
    arithmetic; None when it does not read as such."""
    source = re.sub(r"\?(\d+)", r"_\1", re.sub(r"(?<=\d),(?=\d{3})", "", text)).replace("^", "**")
    if not re.fullmatch(r"(?:[0-9A-Za-z_ +\-*/()]|floor|ceil)*", source):
        return None
    names = {name: Fraction(value) for name, value in env.items()}
    try:
        return eval(source, {"__builtins__": {}, "floor": math.floor, "ceil": math.ceil}, names)  # noqa: S307
    except (SyntaxError, NameError, TypeError, ZeroDivisionError):
        return None


def mentions_size(text: str) -> bool:
    """Whether a kernel or padding text shows an open size (a name, floor/ceil, or ?) rather than numbers."""
    return bool(re.search(r"[A-WYZa-wyz?_]", re.sub(r"\b(same|valid)\b", "", text)))


def compare(symbolic, concrete, env: dict, where: str, differences: list, key: str = "") -> int:
    """Append to `differences` every (path, detail) where the symbolic report, evaluated at env,
    is not the concrete one; the count of symbolic numbers checked."""
    if is_expression(symbolic):
        value = evaluate_expr(symbolic["expr"], env)
        if value is None:
            differences.append((where + " (expr form)", f"expr {symbolic['expr']!r} is not of the contract's form"))
            return 1
        if type(concrete) is not int or type(value) is not int or value != concrete:
            differences.append((where, f"expr {symbolic['expr']} = {value:,} at {env}, "
                                       f"compiled with the values: {concrete!r}"))
            return 1
        shown = evaluate_text(symbolic["text"], env)
        if shown != concrete:
            differences.append((where + " (text)", f"text {symbolic['text']} = {shown} at {env}, "
                                                   f"compiled with the values: {concrete!r}"))
        return 1
    if isinstance(symbolic, dict) and isinstance(concrete, dict):
        checked = 0
        for name in sorted((set(symbolic) | set(concrete)) - TEXT_KEYS - {"sizes"}):
            if name not in symbolic or name not in concrete:
                side = "with open sizes" if name in symbolic else "with the values"
                differences.append((f"{where}.{name}", f"only in the report compiled {side}"))
                continue
            checked += compare(symbolic[name], concrete[name], env, f"{where}.{name}", differences, name)
        return checked
    if isinstance(symbolic, list) and isinstance(concrete, list):
        if len(symbolic) != len(concrete):
            differences.append((where, f"{len(symbolic)} items with open sizes, {len(concrete)} with the values"))
            return 0
        return sum(compare(s, c, env, f"{where}[{i}]", differences, key)
                   for i, (s, c) in enumerate(zip(symbolic, concrete)))
    if key in SHAPE_TEXT_KEYS and isinstance(symbolic, str) and mentions_size(symbolic):
        return 0
    if symbolic != concrete or type(symbolic) is not type(concrete):
        differences.append((where, f"{symbolic!r} with open sizes, {concrete!r} compiled with the values {env}"))
    return 0


# --- one network -------------------------------------------------------------------------------

class Crash(Exception):
    """An exception escaped nnc, or it reported an internal error."""


@dataclass
class Outcome:
    """What checking one network found. status: "compared"; "refused" (E205: no single formula,
    though some of the values compile); "invalid" (errors with open sizes and with every value
    set: the generator made a wrong network); "rejected" (other errors with open sizes, though
    some of the values compile); "crash"."""

    status: str
    detail: str = ""
    differences: list = field(default_factory=list)  # (path, detail)
    used: list = field(default_factory=list)  # per value set: whether the values compile (and were compared)
    numbers: int = 0

    def kinds(self) -> set:
        """The failures found, each as a kind that a smaller network must show again."""
        if self.status in ("crash", "rejected"):
            return {self.status}
        return {re.sub(r"\[\d+\]", "[]", path) for path, _ in self.differences}


def options_for(rng: random.Random) -> Options:
    return Options(convention=rng.choice(("keras", "keras", "pytorch", "textbook")),
                   dtype=rng.choice(("float32", "float16", "float64", "int8")),
                   batch=rng.choice((None, None, 1, 4, 32)))


def value_sets(network: Network, rng: random.Random) -> list:
    """VALUE_SETS sets of values at which every generated layer is valid, and one of values below
    MIN_SIZE (1 upwards), where the concrete network may be invalid: where it is valid, the formulas
    must hold there too."""
    sets = [[rng.randint(MIN_SIZE, MAX_SIZE) for _ in network.open_axes] for _ in range(VALUE_SETS)]
    return sets + [[rng.randint(1, MIN_SIZE - 1) for _ in network.open_axes]]


def check(network: Network, options: Options, values_list) -> Outcome:
    """Compile `network` with open sizes and with each of `values_list` written in; compare."""
    try:
        symbolic, errors = report(network.text(), options)
        concretes = [(values, *report(network.text(values), options)) for values in values_list]
    except Crash as crash:
        return Outcome("crash", str(crash))
    if errors:
        accepted = [values for values, _, concrete_errors in concretes if not concrete_errors]
        shown = "; ".join(f"{d['code']} line {d['line']}: {d['message']}" for d in errors)
        if not accepted:
            return Outcome("invalid", shown)
        refused = all(d["code"] == "E205" and "named sizes" in d["message"] for d in errors)
        return Outcome("refused" if refused else "rejected", f"{shown} (yet the sizes {accepted[0]} compile)")
    model = symbolic["models"][0]
    names = [model["input_shape"][axis] for axis in network.open_axes]
    if not all(is_expression(name) for name in names) or \
            sorted(name["expr"] for name in names) != sorted(python_name(s) for s in model.get("sizes", ())):
        return Outcome("compared", differences=[("model.input_shape", f"open sizes {names}, model sizes "
                                                                      f"{model.get('sizes')}")])
    outcome = Outcome("compared")
    for values, concrete, concrete_errors in concretes:
        outcome.used.append(not concrete_errors)
        if concrete_errors:
            continue
        env = {name["expr"]: value for name, value in zip(names, values)}
        outcome.numbers += compare(peak_at(model, env), concrete["models"][0], env, "model", outcome.differences)
    return outcome


def peak_at(model: dict, env: dict) -> dict:
    """The model's report with the inference peak worked out at `env` where it depends on the
    sizes: the report gives it as null and lists the layers that may hold it (with their values
    per sample); the peak is the largest of them, times the batch, and the same plus the
    parameters. The candidates are checked by what the concrete report says."""
    memory = model["memory"]
    candidates = memory.get("inference_peak_candidates")
    if not candidates:
        return model
    values = [evaluate_expr(c["values"]["expr"], env) if is_expression(c["values"]) else c["values"]
              for c in candidates]
    batch, size = memory["batch"], memory["bytes_per_value"]
    peak = max(values) * batch
    params = model["totals"]["params"]
    params = evaluate_expr(params["expr"], env) if is_expression(params) else params
    resolved = dict(memory, inference_peak=dict(memory["inference_peak"], values=peak, bytes=peak * size),
                    inference_peak_plus_params=dict(memory["inference_peak_plus_params"], values=peak + params,
                                                    bytes=(peak + params) * size))
    del resolved["inference_peak_candidates"]
    return dict(model, memory=resolved)


def shrink(network: Network, options: Options, values_list, kind: str) -> Network:
    """The smallest network, leaving out one statement or branch at a time, that still shows `kind`."""
    changed = True
    while changed:
        changed = False
        for smaller in network.smaller():
            if kind in check(smaller, options, values_list).kinds():
                network, changed = smaller, True
                break
    return network


# --- the survey: every generated network, checked once for all the tests below -----------------

@dataclass
class Case:
    seed: int
    network: Network
    options: Options
    values_list: list
    outcome: Outcome


@pytest.fixture(scope="module")
def survey() -> list:
    cases = []
    for seed in range(NETWORKS):
        rng = random.Random(seed)
        network = generate(rng)
        options = options_for(rng)
        values_list = value_sets(network, rng)
        cases.append(Case(seed, network, options, values_list, check(network, options, values_list)))
    return cases


def failures(cases, wanted) -> str:
    """The failures whose kind `wanted` accepts: how many networks show each kind (kinds shown by
    the same networks together), and the smallest network, with what differs, for the first SHOWN
    networks of each."""
    by_kind: dict = {}
    for case in cases:
        for kind in sorted(case.outcome.kinds()):
            if wanted(kind):
                by_kind.setdefault(kind, []).append(case)
    together: dict = {}
    for kind, found in sorted(by_kind.items()):
        together.setdefault(tuple(case.seed for case in found), []).append(kind)
    out = []
    for seeds, kinds in together.items():
        found = by_kind[kinds[0]]
        out.append(f"== {', '.join(kinds)}: {len(found)} of {len(cases)} networks (seeds {list(seeds)[:20]})")
        for case in found[:SHOWN]:
            smallest = shrink(case.network, case.options, case.values_list, kinds[0])
            outcome = check(smallest, case.options, case.values_list)
            details = {}  # the first difference of each kind
            for path, detail in outcome.differences:
                details.setdefault(re.sub(r"\[\d+\]", "[]", path), f"{path}: {detail}")
            details = [details[kind] for kind in kinds if kind in details]
            out.append(f"seed {case.seed}, convention={case.options.convention} dtype={case.options.dtype} "
                       f"batch={case.options.batch}, sizes {case.values_list}:\n{smallest.text()}"
                       + ("\n".join(details) if details else outcome.detail) + "\n")
    return "\n".join(out)


# --- the property ----------------------------------------------------------------------------

def test_no_generated_network_makes_nnc_crash(survey):
    found = failures(survey, lambda kind: kind == "crash")
    assert not found, found


def test_what_compiles_with_the_values_compiles_with_open_sizes(survey):
    """Errors with open sizes where the values compile: only E205's "no single formula" is allowed
    (counted, and bounded, by the coverage test)."""
    found = failures(survey, lambda kind: kind == "rejected")
    assert not found, found


def test_shapes_counts_blocks_and_totals_evaluate_to_the_concrete_ones(survey):
    found = failures(survey, lambda kind: kind.startswith("model.") and not kind.startswith("model.memory."))
    assert not found, found


def test_memory_lines_evaluate_to_the_concrete_ones(survey):
    found = failures(survey, lambda kind: kind.startswith("model.memory."))
    assert not found, found


def test_the_property_was_checked_on_many_networks_and_values(survey):
    status: dict = {}
    for case in survey:
        status[case.outcome.status] = status.get(case.outcome.status, 0) + 1
    compared = [case for case in survey if case.outcome.status == "compared"]
    large = sum(sum(case.outcome.used[:VALUE_SETS]) for case in compared)
    small = sum(sum(case.outcome.used[VALUE_SETS:]) for case in compared)
    numbers = sum(case.outcome.numbers for case in compared)
    families: dict = {}
    for case in compared:
        if any(case.outcome.used):
            families[case.network.family] = families.get(case.network.family, 0) + 1
    refused = [case for case in survey if case.outcome.status == "refused"]
    assert len(compared) >= 0.9 * NETWORKS, (status, [(c.network.text(), c.outcome.detail) for c in refused[:3]])
    assert large >= 0.95 * VALUE_SETS * len(compared), (large, len(compared))
    assert small >= 0.25 * len(compared), (small, len(compared))
    assert numbers >= 20 * (large + small), (numbers, large + small)
    assert min(families.get(f, 0) for f in ("image", "sequence", "tokens", "volume")) >= 20, families
    # every kind of layer the generator writes was compiled with open sizes and compared
    written = " ".join(case.network.text() for case in compared if any(case.outcome.used))
    for kind in ("conv2d ", "conv2d_transpose ", "depthwise2d ", "separable2d ", "maxpool2d ", "avgpool2d ",
                 "upsample2d", "zeropad2d", "batchnorm", "layernorm", "activation ", "dropout ", "concat {",
                 "add {", "globalavgpool2d", "globalmaxpool2d", "flatten", "dense ", "conv1d ", "maxpool1d ",
                 "avgpool1d ", "globalavgpool1d", "rnn ", "lstm ", "gru ", "bidirectional=true",
                 "return_sequences=true", "embedding ", "conv3d ", "ceil=true", "dilation=", "groups=",
                 "pad=same", "multiplier=", "output_padding="):
        assert written.count(kind) >= 5, kind
