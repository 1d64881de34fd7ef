"""Diagrams inside the HTML report: the DOT text that :mod:`nnlang.emit.dot` writes for a model,
drawn as SVG by Graphviz's `dot -Tsvg`, made fit to sit inline in a page (no script, no outside
resource: the page works offline).

Graphviz escapes every text it draws, and :mod:`nnlang.emit.dot` escapes every name it puts in a
label; here the XML prolog and the comments (where Graphviz repeats names) are dropped, and the
element identifiers get a prefix of the page's own, so that several diagrams share a page.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess

from .. import ir
from ..report import Options

#: Seconds Graphviz may take to lay out one model (nnc diagram folds very big networks, so a
#: drawing takes a few seconds at most); beyond it the page goes without that diagram.
TIMEOUT = 300


class NoDiagram(Exception):
    """Why a diagram was left out (Graphviz missing, failing or too slow)."""


class GraphvizMissing(NoDiagram):
    """Graphviz's dot is not installed: no diagram can be drawn."""


def model_svg(model: ir.Model, options: Options, prefix: str) -> str:
    """The diagram of `model` as an inline <svg> element; its identifiers start with `prefix`.
    The drawing folds blocks as the table does (`--depth`) and counts with its convention.
    Raises NoDiagram."""
    from . import dot

    text = dot.source([model], dot.DiagramOptions(depth=options.depth, convention=options.convention))
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing("Graphviz's dot is not installed (Debian: apt-get install graphviz)")
    try:
        proc = subprocess.run([program, "-Tsvg"], input=text.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise NoDiagram(f"Graphviz's dot took more than {TIMEOUT} s") from None
    except OSError as error:
        raise NoDiagram(f"Graphviz's dot could not run: {error.strerror or error}") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = f"Graphviz's dot failed (exit {proc.returncode})"
        raise NoDiagram(f"{reason}: {detail[0][:200]}" if detail else reason)
    return inline(proc.stdout.decode("utf-8", "replace"), prefix, f"Diagram of model {model.name}")


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ID = re.compile(r'\bid="([^"]*)"')
_REFERENCE = re.compile(r'(url\(#|href="#)([^)"]*)')


def inline(svg: str, prefix: str, label: str) -> str:
    """Graphviz's SVG document as an element for an HTML page: from its <svg> tag on, without
    comments, identifiers (and references to them) prefixed, labelled for screen readers."""
    start = svg.find("<svg")
    if start < 0:
        raise NoDiagram("Graphviz's dot wrote no SVG")
    svg = _COMMENT.sub("", svg[start:]).strip()
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = _REFERENCE.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)
    return f'<svg role="img" aria-label="{html.escape(label)}"' + svg[len("<svg"):]
