"""Fixture tests: `.nn` cases that carry their own expectations, under tests/fixtures/.

Every `*.nn` file below tests/fixtures/ (any depth) holds one or more cases; each case is one
test, with the id `FOLDER/FILE.nn::NAME`. A case is what a person writes to check nnc by hand:
a program, the diagnostics it must produce, and `->` expectations with the arithmetic beside
them.

    # Lines before the first case are a description of the file (comments or blank lines).

    ### conv-negative-padding
    # E104 at 3:20: pad must be non-negative
    model m {
      input 9x9x2
      conv2d 4 k=3 pad=(0,-1)
    }

    ### conv-rectangular-padding
    model m {
      input 9x9x2
      conv2d 4 k=3 pad=0x1 -> 7x9x4 params=76  # (9-3)/1+1 = 7, (9+2-3)/1+1 = 9; params: 3*3*2*4 + 4 = 76
    }

The parts of a case:

* The marker `### NAME` starts a case and names it (letters, digits, `-`, `_`, `.`; unique in
  the file). The case runs to the next marker or the end of the file.
* The header: the lines right under the marker that start with `#`. Each is one directive:
    - `# CODE at LINE:COL` or `# CODE at LINE:COL: why` -- a diagnostic the case must produce (any
      severity: errors, warnings and notes alike), at that line and column of the program. The
      text after the location is for the reader; it is not compared with the message. Repeat
      the line when a diagnostic appears twice at one place.
    - `# convention: keras|pytorch|textbook` -- compile under that convention (default keras).
    - `# expectations: N checked` -- the number of expectations nnc checks, when it is not the
      number written (an expectation inside a `repeat` or a block called twice is checked more
      than once).
  Any other header line is a malformed fixture. A program therefore cannot start with a
  comment line: put such a comment further down.
* The program: the lines after the header, exactly as written (spaces and columns included),
  joined by newlines, without the blank lines at its end and without a final newline (so that a
  case can end in the middle of a statement). Line 1 is the first line under the header; it must
  not be blank.

What the runner checks (the semantics of `nnc check`, on the program compiled in this process):

1. The diagnostics produced are exactly those of the header: the same codes at the same lines
   and columns, no more and no fewer, compared as sorted lists (order is not compared).
2. In a case that expects no error, the expectations are an answer key: each must hold (one that
   does not is an error diagnostic, which 1. does not allow); nnc must check every one written
   (one per shape and one per `key=N` after each `->` outside comments, unless
   `# expectations: N checked` says otherwise); and every non-zero literal count (`params=`,
   `macs=`, `trainable=`, `non_trainable=`) must be the result of an arithmetic clause beside it
   (see 3), so that each expected number is arithmetic written out by a person.
3. The comment of a line holding `->`, with the comment-only lines right under it, holds
   arithmetic clauses separated by `;` or `,` (outside parentheses): `[LABEL:] EXPR = N` (or a
   chain `EXPR = EXPR = N`), over integers with `+ - * / // % **`, parentheses, `floor`, `ceil`,
   `min` and `max`; `/` is exact division. Every clause must hold, in every case. A clause
   labelled with a count key of that line's expectation (`params: 3*3*2*4 + 4 = 76`) must give
   that key's value. A piece without `=` is prose and is not checked.

A malformed fixture fails its own test (or the file's, or the folder's) with the reason; a folder
under tests/fixtures/ that yields no case fails too. Nothing is skipped.
"""

from __future__ import annotations

import ast
import math
import re
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

from nnlang.compiler import CONVENTIONS
from nnlang.diagnostics import CODES, render
from nnlang.driver import compile_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"

MARKER = re.compile(r"###(?:\s+(?P<name>.*?))?\s*$")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DIAGNOSTIC = re.compile(r"#\s*(?P<code>[A-Z]\d{3}) at (?P<line>\d+):(?P<column>\d+)(?::\s*(?P<why>.*))?\s*$")
CONVENTION = re.compile(r"#\s*convention:\s*(?P<convention>\S+)\s*$")
CHECKED = re.compile(r"#\s*expectations:\s*(?P<count>\d+) checked\s*$")
COUNT_KEYS = ("params", "trainable", "non_trainable", "macs")
LITERAL = re.compile(r"[0-9][0-9_]*")
COUNT_LITERAL = re.compile(r"[0-9][0-9_,]*")  # `params=9,248` as well as 9_248


class FixtureError(Exception):
    """A fixture that does not follow the format of this module's docstring."""


class _ProgramError(Exception):
    """A malformed expectation or arithmetic clause at `line` of a case's program."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


class Expectation(NamedTuple):
    """One `->` of a program line: how many checks it writes, its literal counts, the arithmetic beside it."""

    line: int
    checks: int
    counts: dict
    clauses: list  # (label, [expressions], value)


class Case(NamedTuple):
    path: Path
    name: str
    first_line: int  # line of the marker in the fixture file
    text: str
    diagnostics: list  # (code, line, column), sorted
    convention: str
    checked: Optional[int]
    expectations: list

    @property
    def id(self) -> str:
        return f"{_shown(self.path)}::{self.name}"


# -- reading fixtures ----------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """A fixture file's path from the repository root (as given when it lies elsewhere)."""
    return path.relative_to(FIXTURES.parent.parent).as_posix() if path.is_relative_to(FIXTURES) else str(path)


def split_cases(text: str, path: Path) -> list:
    """[(name, marker line, lines)] of a fixture file; FixtureError when its structure is wrong."""
    path = _shown(path)
    cases: list = []
    seen: dict = {}
    for number, line in enumerate(text.split("\n"), 1):
        marker = MARKER.fullmatch(line)
        if marker:
            name = marker.group("name") or ""
            if not NAME.fullmatch(name):
                raise FixtureError(f"{path}:{number}: a case name is letters, digits, '-', '_' and '.', "
                                   f"got {name!r}")
            if name in seen:
                raise FixtureError(f"{path}:{number}: case {name!r} is already defined at line {seen[name]}")
            seen[name] = number
            cases.append((name, number, []))
        elif cases:
            cases[-1][2].append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise FixtureError(f"{path}:{number}: text before the first case marker '### NAME'")
    if not cases:
        raise FixtureError(f"{path}: no case (a case starts with a line '### NAME')")
    return cases


def parse_case(path: Path, name: str, marker_line: int, lines: list) -> Case:
    """The case `name` of the fixture file `path`, from the lines under its marker."""
    header = []
    while len(header) < len(lines) and lines[len(header)].startswith("#"):
        header.append(lines[len(header)])
    program = lines[len(header):]
    while program and not program[-1].strip():
        program.pop()
    shown = _shown(path)
    where = f"{shown}:{marker_line}: case {name!r}"
    if not program:
        raise FixtureError(f"{where}: no program under the header")
    if not program[0].strip():
        raise FixtureError(f"{where}: the program starts with a blank line (line 1 is the line under the header)")
    diagnostics, convention, checked = [], "keras", None
    for number, line in enumerate(header, marker_line + 1):
        if match := DIAGNOSTIC.fullmatch(line):
            code = match.group("code")
            if code not in CODES:
                raise FixtureError(f"{shown}:{number}: no diagnostic code {code}")
            row, column = int(match.group("line")), int(match.group("column"))
            if not 1 <= row <= len(program):
                raise FixtureError(f"{shown}:{number}: line {row} is outside the program's {len(program)} lines")
            diagnostics.append((code, row, column))
        elif match := CONVENTION.fullmatch(line):
            convention = match.group("convention")
            if convention not in CONVENTIONS:
                raise FixtureError(f"{shown}:{number}: no convention {convention!r} (one of {', '.join(CONVENTIONS)})")
        elif match := CHECKED.fullmatch(line):
            checked = int(match.group("count"))
        else:
            raise FixtureError(f"{shown}:{number}: not a header directive ('# CODE at LINE:COL[: why]', "
                               f"'# convention: NAME', '# expectations: N checked'): {line!r}")
    try:
        expectations = read_expectations(program)
    except _ProgramError as error:  # located in the fixture file: the program starts under the header
        raise FixtureError(f"{shown}:{marker_line + len(header) + error.line}: {error}") from None
    return Case(path, name, marker_line, "\n".join(program), sorted(diagnostics), convention, checked, expectations)


def load_cases(folder: Path = FIXTURES) -> list:
    """Every case of the fixture files under `folder`, in file order; FixtureError for a malformed one."""
    return [parse_case(path, *parts) for path in sorted(folder.rglob("*.nn"))
            for parts in split_cases(path.read_text(encoding="utf-8"), path)]


# -- expectations and the arithmetic beside them ------------------------------------------------------


def _split_code_comment(line: str) -> tuple:
    code, hash_, comment = line.partition("#")
    return code, comment if hash_ else None


def _top_level_split(text: str, separators: str) -> list:
    pieces, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char in separators and depth == 0:
            pieces.append(text[start:index])
            start = index + 1
    pieces.append(text[start:])
    return pieces


def _read_arrow(text: str, number: int) -> tuple:
    """(checks written, {key: literal value}) of the expectation text after one `->` on program line `number`."""
    text = re.sub(r"\s*=\s*", "=", text.strip())
    text = re.split(r"(?:^|\s)allow\s", text, maxsplit=1)[0]  # a trailing `allow W202` is not checked
    counts, checks = {}, 0
    if text and not re.match(r"[A-Za-z_]\w*\s*=", text):  # a shape comes first
        checks += 1
        if text.startswith("("):
            text = text[_closing(text, number) + 1:]
        else:
            text = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
    pieces = [piece for piece in _top_level_split(text, " ") if piece.strip()]
    for piece in pieces:
        key, equal, value = piece.partition("=")
        if not equal and piece is pieces[-1]:
            checks += 1  # a shape written after the counts (`-> params=N 24x24x32`)
            continue
        if not equal or not re.fullmatch(r"[A-Za-z_]\w*", key.strip()):
            raise _ProgramError(number, f"cannot read the expectation {text!r} (write `-> SHAPE key=N ...`)")
        checks += 1
        if key.strip() in COUNT_KEYS and COUNT_LITERAL.fullmatch(value.strip()):
            counts[key.strip()] = int(re.sub("[_,]", "", value.strip()))
    return checks, counts


def _closing(text: str, number: int) -> int:
    depth = 0
    for index, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return index
    raise _ProgramError(number, f"unbalanced parentheses in the expectation {text!r}")


def read_expectations(program: list) -> list:
    """The `->` expectations of a program (its lines), with the arithmetic of their comments."""
    found = []
    for index, line in enumerate(program):
        code, comment = _split_code_comment(line)
        if "->" not in code:
            continue
        number = index + 1
        checks, counts = 0, {}
        for statement in re.split(r"[;}]", code):
            _, arrow, after = statement.partition("->")
            if arrow:
                more_checks, more_counts = _read_arrow(after, number)
                checks += more_checks
                for key, value in more_counts.items():
                    counts.setdefault(key, []).append(value)
        comments = [comment] if comment is not None else []
        for below in program[index + 1:]:  # comment-only lines right under continue the arithmetic
            if not below.lstrip().startswith("#"):
                break
            comments.append(below.lstrip()[1:])
        clauses = [clause for text in comments for clause in read_clauses(text, number)]
        found.append(Expectation(number, checks, counts, clauses))
    return found


def read_clauses(comment: str, number: int) -> list:
    """[(label, [(expression, value)], result)] of the arithmetic in a comment of program line `number`."""
    clauses = []
    for piece in _top_level_split(comment, ";,"):
        if "=" not in piece:
            continue  # prose
        label, colon, arithmetic = piece.partition(":")
        if not colon:
            label, arithmetic = "", piece
        parts = [part.strip() for part in arithmetic.split("=")]
        if len(parts) < 2 or not LITERAL.fullmatch(parts[-1]) or not all(parts[:-1]):
            raise _ProgramError(number, f"an arithmetic clause is `[LABEL:] EXPR = N`, got {piece.strip()!r}")
        expressions = []
        for part in parts[:-1]:
            try:
                expressions.append((part, evaluate(part)))
            except (SyntaxError, ValueError, ZeroDivisionError) as error:
                raise _ProgramError(number, f"cannot evaluate {part!r} in {piece.strip()!r}: {error}") from None
        clauses.append((label.strip(), expressions, int(parts[-1].replace("_", ""))))
    return clauses


_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
              ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
              ast.Pow: lambda a, b: a ** _exponent(b)}
_FUNCTIONS = {"floor": math.floor, "ceil": math.ceil, "min": min, "max": max}


def _exponent(b: Fraction) -> int:
    if b.denominator != 1 or not 0 <= b <= 64:
        raise ValueError(f"an exponent is an integer from 0 to 64, not {b}")
    return int(b)


def evaluate(expression: str) -> Fraction:
    """The exact value of integer arithmetic written by a person (`/` is exact division)."""
    def value(node) -> Fraction:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return Fraction(_OPERATORS[type(node.op)](value(node.left), value(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
                and node.args and not node.keywords):
            return Fraction(_FUNCTIONS[node.func.id](*map(value, node.args)))
        raise ValueError(f"only integers, + - * / // % **, parentheses and {', '.join(_FUNCTIONS)} are allowed, "
                         f"not {ast.unparse(node)!r}")

    return value(ast.parse(expression.strip(), mode="eval").body)


# -- running a case ----------------------------------------------------------------------------------


def problems_of(case: Case) -> list:
    """Every way the compiled case differs from what its fixture says; empty when it passes."""
    problems = []
    for expectation in case.expectations:
        for label, expressions, result in expectation.clauses:
            for text, got in expressions:
                if got != result:
                    problems.append(f"line {expectation.line}: arithmetic {text} = {got}, not {result:,}")
            values = expectation.counts.get(label, [])
            if label in COUNT_KEYS and values and result not in values:
                problems.append(f"line {expectation.line}: '{label}: ... = {result:,}' but the expectation says "
                                f"{label}={', '.join(map(str, values))}")
    compilation = compile_text(case.text, case.id, case.convention)
    found = sorted((d.code, d.span.line, d.span.column) for d in compilation.diagnostics)
    if found != case.diagnostics:
        shown = "\n".join(render(d, compilation.source) for d in compilation.diagnostics) or "(none)"
        problems.append("diagnostics differ\n  expected: " + _diagnostic_list(case.diagnostics)
                        + "\n  found:    " + _diagnostic_list(found) + "\n" + shown)
    expects_errors = any(CODES[code].severity == "error" for code, _, _ in case.diagnostics)
    if not expects_errors:
        written = sum(e.checks for e in case.expectations)
        wanted = written if case.checked is None else case.checked
        checked = compilation.program.expectations_checked if compilation.program is not None else 0
        if checked != wanted:
            problems.append(f"nnc checked {checked} expectation(s), the fixture "
                            + (f"writes {written}" if case.checked is None else f"says {wanted}"))
        for expectation in case.expectations:
            backed = {result for _, _, result in expectation.clauses}
            for key, values in expectation.counts.items():
                for value in values:
                    if value and value not in backed:
                        problems.append(f"line {expectation.line}: {key}={value} has no arithmetic beside it "
                                        f"(`# {key}: EXPR = {value}`)")
    return problems


def _diagnostic_list(rows: list) -> str:
    return ", ".join(f"{code} at {line}:{column}" for code, line, column in rows) or "none"


def run_case(case: Case) -> None:
    problems = problems_of(case)
    assert not problems, f"{case.id}:\n" + "\n".join(problems) + "\n--- program ---\n" + case.text


# -- collection: one test per case; a malformed file or an empty folder is a failing test of its own ---------


def collect(root: Path = FIXTURES) -> list:
    """pytest parameters: a Case for every case under `root`, a FixtureError for each malformed
    file or case, each folder holding no case, each file that is no fixture, and a `root` without
    any case."""
    params = []

    def failing(message: str, test_id: str) -> None:
        params.append(pytest.param(FixtureError(message), id=test_id))

    for folder in sorted({root, *(p for p in root.rglob("*") if p.is_dir())}):
        files = sorted(folder.glob("*.nn"))
        shown = folder.relative_to(root.parent).as_posix()
        others = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".nn")
        if others:
            failing(f"{shown}: only *.nn fixture files belong here, not {others}", f"{shown}/")
        if folder != root and not files and not any(p.is_dir() for p in folder.iterdir()):
            failing(f"{shown}: a fixture folder without a case", f"{shown}/")
        for path in files:
            file_id = path.relative_to(root).as_posix()
            try:
                split = split_cases(path.read_text(encoding="utf-8"), path)
            except (FixtureError, UnicodeDecodeError) as error:
                failing(f"{file_id}: {error}" if isinstance(error, UnicodeDecodeError) else str(error), file_id)
                continue
            for parts in split:
                try:
                    params.append(pytest.param(parse_case(path, *parts), id=f"{file_id}::{parts[0]}"))
                except FixtureError as error:
                    params.append(pytest.param(error, id=f"{file_id}::{parts[0]}"))
    if not any(isinstance(p.values[0], Case) for p in params):
        failing(f"{root}: no fixture case at all", f"{root.name}/")
    return params


CASES = collect()


@pytest.mark.parametrize("case", CASES)
def test_fixture(case):
    if isinstance(case, FixtureError):
        pytest.fail(f"malformed fixture: {case}", pytrace=False)
    run_case(case)


# -- the runner itself ----------------------------------------------------------------------------------


def _case(text: str) -> Case:
    path = FIXTURES / "selftest.nn"
    (parts,) = split_cases(text, path)
    return parse_case(path, *parts)


def _loaded() -> list:
    return [param.values[0] for param in CASES if isinstance(param.values[0], Case)]


def test_the_fixture_folders_have_cases():
    folders = {case.path.parent.relative_to(FIXTURES).as_posix() for case in _loaded()}
    assert {"diagnostics", "language", "layers"} <= folders, folders


def test_every_error_code_has_a_fixture():
    exercised = {code for case in _loaded() for code, _, _ in case.diagnostics}
    untested = {c for c, entry in CODES.items() if entry.severity == "error"} - exercised
    # E004 (not UTF-8) and E005 (huge literal) are tested through the CLI in test_diagnostics; E401 is
    # nnc export's, tested in test_export and by its documented example (test_diagnostic_docs);
    # E900 is the internal-error line.
    assert untested <= {"E004", "E005", "E401", "E900"}, untested


def test_the_example_of_the_format_passes():
    example = __doc__.split("\n\n    # Lines before", 1)[1].split("\n\nThe parts of a case", 1)[0]
    cases = split_cases(textwrap.dedent("    # Lines before" + example), FIXTURES / "example.nn")
    assert [name for name, _, _ in cases] == ["conv-negative-padding", "conv-rectangular-padding"]
    for parts in cases:
        run_case(parse_case(FIXTURES / "example.nn", *parts))


def test_a_passing_case_passes():
    run_case(_case("### ok\nmodel m {\n  input 9x9x2\n"
                   "  conv2d 4 k=3 pad=0x1 -> 7x9x4 params=76  # (9-3)/1+1 = 7, (9+2-3)/1+1 = 9; 3*3*2*4 + 4 = 76\n}"))
    run_case(_case("### error\n# E104 at 1:26: units must be positive\nmodel m { input 4; dense 0 }"))


@pytest.mark.parametrize("text, complaint", [
    # a diagnostic that does not appear, one at another column, one that is not listed
    ("### a\n# E104 at 1:26\nmodel m { input 4; dense 2 }", "diagnostics differ"),
    ("### a\n# E104 at 1:25\nmodel m { input 4; dense 0 }", "diagnostics differ"),
    ("### a\nmodel m { input 4; dense 0 }", "diagnostics differ"),
    ("### a\nmodel m {\n input 10x64\n dense 32\n}", "diagnostics differ"),  # the note W302 is not listed
    # an expectation that does not hold is an error nobody listed
    ("### a\nmodel m { input 4; dense 2 -> params=11  # 4*2 + 2 = 10\n}", "diagnostics differ"),
    # wrong arithmetic, a label that disagrees, a count with no arithmetic beside it
    ("### a\nmodel m { input 4; dense 2 -> params=10  # 4*2 + 2 = 11\n}", "arithmetic 4*2 + 2 = 10, not 11"),
    ("### a\nmodel m { input 4; dense 2 -> params=10 macs=8  # macs: 4*2 + 2 = 10; 4*2 = 8\n}",
     "'macs: ... = 10' but the expectation says macs=8"),
    ("### a\nmodel m { input 4; dense 2 -> params=10\n}", "params=10 has no arithmetic beside it"),
    # an expectation nnc never checks (in a block nobody calls) is caught by the count
    ("### a\nblock b() { dense 2 -> 3 }\nmodel m { input 4 }", "nnc checked 0 expectation(s), the fixture writes 1"),
])
def test_a_wrong_case_fails(text, complaint):
    problems = problems_of(_case(text))
    assert problems and complaint in "\n".join(problems), problems


@pytest.mark.parametrize("text, complaint", [
    ("model m { input 4 }\n### a\nmodel m { input 4 }", "text before the first case marker"),
    ("# only a description\n", "no case"),
    ("### a\nmodel m { input 4 }\n### a\nmodel n { input 4 }", "already defined at line 1"),
    ("### a b\nmodel m { input 4 }", "a case name is"),
    ("### a\n# E104 at 1:26\n", "no program under the header"),
    ("### a\n# E104 at 2:26\n\nmodel m { input 4; dense 0 }", "starts with a blank line"),
    ("### a\n# E104 at 2:26\nmodel m { input 4; dense 0 }", "outside the program's 1 lines"),
    ("### a\n# E999 at 1:1\nmodel m { input 4 }", "no diagnostic code E999"),
    ("### a\n# E104 at 1\nmodel m { input 4 }", "not a header directive"),
    ("### a\n# a description\nmodel m { input 4 }", "not a header directive"),
    ("### a\n# convention: tf\nmodel m { input 4 }", "no convention 'tf'"),
    ("### a\nmodel m { input 4; dense 2 -> params=10  # 4*x = 10\n}", "cannot evaluate '4*x'"),
    ("### a\nmodel m { input 4; dense 2 -> params=10  # pad=same gives ten\n}", "an arithmetic clause is"),
])
def test_a_malformed_fixture_is_refused(text, complaint):
    path = FIXTURES / "selftest.nn"
    with pytest.raises(FixtureError, match=re.escape(complaint)):
        for parts in split_cases(text, path):
            parse_case(path, *parts)


def test_malformed_files_and_empty_folders_fail(tmp_path):
    root = tmp_path / "fixtures"
    (root / "good").mkdir(parents=True)
    (root / "good" / "ok.nn").write_text("# a description\n\n### ok\nmodel m { input 4 }\n")
    (root / "good" / "two.nn").write_text("### fine\nmodel m { input 4 }\n### broken\n# hello\nmodel m { input 4 }\n")
    (root / "empty").mkdir()
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "prose").mkdir()
    (root / "prose" / "notes.nn").write_text("# nothing but a description\n")
    (root / "prose" / "cases.txt").write_text("### a\nmodel m { input 4 }\n")
    params = {param.id: param.values[0] for param in collect(root)}
    assert {test_id for test_id, value in params.items() if isinstance(value, Case)} == {
        "good/ok.nn::ok", "good/two.nn::fine"}
    failures = {test_id: str(value) for test_id, value in params.items() if not isinstance(value, Case)}
    assert set(failures) == {"good/two.nn::broken", "fixtures/empty/", "fixtures/nested/deeper/",
                             "fixtures/prose/", "prose/notes.nn"}, failures
    assert "not a header directive" in failures["good/two.nn::broken"]
    assert "only *.nn fixture files belong here, not ['cases.txt']" in failures["fixtures/prose/"]
    assert "no case" in failures["prose/notes.nn"]
    (root / "good" / "ok.nn").write_text("# the only case is gone\n")
    (root / "good" / "two.nn").unlink()
    assert "fixtures/" in {param.id for param in collect(root)}


def test_arithmetic_is_exact():
    assert evaluate("(9+2-3)/1+1") == 9
    assert evaluate("(61 - 2)/2 + 1") == Fraction(61, 2)
    assert evaluate("floor((61 - 2)/2) + 1") == 30 and evaluate("ceil((61 - 2)/2) + 1") == 31
    assert evaluate("2**10 - max(1, 2) // 2") == 1023
    with pytest.raises(ValueError):
        evaluate("2**(1/2)")
    with pytest.raises(ValueError):
        evaluate("10**10**10")
