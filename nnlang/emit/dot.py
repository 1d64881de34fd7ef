"""Graphviz diagrams of compiled models (`nnc diagram`).

One node per layer, with its kind and key hyper-parameters; the tensor shape
that flows along every edge (channels last, as Keras prints it; a tensor that
feeds several branches goes to a junction first, so it is labelled once);
blocks, branches, labelled joins and labelled repeats as labelled clusters, or
folded into one node that summarises what they hold. For paper (a Layout, made
by nnlang.emit.paper) a model's statements may be drawn in columns joined by
lettered connectors, and a page may hold only some of them.

Every label is a Graphviz HTML-like label built here, and every piece of text
that comes from the model (names of models, layers, blocks and branches) goes
through :func:`escape`, so no name can break the DOT source or reach the SVG
unescaped. Node and cluster identifiers are generated (``m0_L12``), never taken
from names. The same model and options always give the same DOT text, byte for
byte, so diagrams can be versioned.

This module imports the ``graphviz`` package; it is only imported when a
diagram is drawn. Rendering (SVG, PNG, PDF) runs Graphviz's ``dot``; the DOT
text itself does not need it.
"""

from __future__ import annotations

import bisect
import re
from typing import Optional

import attrs
import graphviz

from .. import ir, present
from ..choices import OPS
from ..report import Counts, Memory, ModelReport, Options, elements, layer_counts, plus
from ..layers import kind_of, lookup
from ..layers.base import fmt_shape

#: Output formats: file extension -> Graphviz format (None: the DOT text itself).
FORMATS = {"dot": None, "gv": None, "svg": "svg", "png": "png", "pdf": "pdf"}

FONT = "Arial"  # Liberation Sans where Arial is missing: the same metrics, so SVG text fits its boxes everywhere
FONT_SIZE = 10  # points: node text; a module of four branches is about A4 wide at this size
SMALL = 9  # edge labels and costs
TITLE_SIZE = 14
INK = "#333333"  # borders and edges: dark enough to print, lighter than the text
PNG_DPI = 150  # PNG for handouts: sharp when printed at the drawing's natural size
PAD = "0"  # no white around the drawing: the page is its bounding box (docs/diagrams.md, Formats)

#: Fill per layer family: light tints (black text stays readable on all of them)
#: whose gray levels differ, so a grayscale print still tells dense, conv, norm and
#: pool layers apart. Gray level (0-255, Rec. 601 luma, as printers convert) in comments.
FILL = {
    "dense": "#ec9a5f",  # orange, 172
    "conv": "#a9c4de",  # blue, 191
    "recurrent": "#f2c8c8",  # rose, 213
    "norm": "#e3ddf0",  # lavender, 225
    "pool": "#e2f5dc",  # green, 236
    "activation": "#fff8d6",  # cream, 246
    "reshape": "#f0f0f0",  # gray, 240
    "regularization": "#ffffff",  # white, dashed border
    "merge": "#ffffff",  # white oval
    "input": "#e6e6e6",  # gray, 230
}
OTHER_FILL = "#f0f0f0"
GROUP_FILL = "#e6e6e6"  # a folded block or branch
CLUSTER_FILL = ("#f5f5f5", "#ffffff")  # blocks alternate by nesting level; branches are white

#: A folded group of at most this many layers (and nothing else) lists them one per line, in full;
#: a bigger one, or one holding branches or blocks, shows its contents in short form (SUMMARY_WIDTH
#: characters a line, at most SUMMARY_LINES lines).
LIST_LIMIT = 4
SUMMARY_WIDTH = 34
SUMMARY_LINES = 10

#: What --show can add to the boxes, frames and title, in the order of their lines: the parameters,
#: the summary's operation counts (choices.OPS: MACs, FLOPs, ...), pooling operations, and the
#: memory of the tensor a box or frame outputs.
SHOW = ("params", *OPS, "pool_ops", "memory")
_SHOWN_AS = {"params": "params", "macs": "MACs", "flops": "FLOPs", "flops-all": "FLOPs (all)",
             "pool_ops": "pool ops", "memory": "memory"}

#: Which arrows carry their tensor's shape (--labels): every one, those where the shape changes
#: (a batch norm or an activation keeps it: the arrow after it is bare), or none.
LABELS = ("all", "changed", "none")

#: Beyond this size a drawing is folded (docs/diagrams.md, Very big networks). Graphviz's layout
#: time grows with the square of the number of frames (clusters): about 1 s for 1,000 frames,
#: 8 s for 3,000, minutes beyond; boxes alone cost far less. A model drawn whole would have
#: more than MAX_FRAMES frames or MAX_BOXES boxes: runs of equal layers, blocks or statements
#: are drawn once with their count; if that still leaves more than MAX_FRAMES frames, groups
#: nested deep enough are drawn as one box each, as with --depth.
MAX_FRAMES = 300
MAX_BOXES = 2_000
#: The longest run of different statements that folding finds repeated (a period).
MAX_PERIOD = 8


@attrs.frozen
class DiagramOptions:
    rankdir: str = "TB"
    depth: Optional[int] = None  # groups at this nesting level or deeper are drawn as one node
    show: frozenset = frozenset()  # of "params", "macs"
    dpi: Optional[int] = None  # set for PNG output
    whole: bool = False  # draw every layer and group however large the drawing: no folding
    #: the counting convention of the parameters shown (docs/conventions.md); None: the compilation's
    convention: Optional[str] = None
    labels: str = "all"  # which arrows carry their shape: LABELS
    legend: bool = False  # a box explaining the fills, shapes and arrow labels
    dtype: str = "float32"  # for --show memory


# --- text -----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text) -> str:
    """Text for the inside of a Graphviz HTML-like label: markup characters as
    entities, line breaks and other control characters as spaces."""
    text = _CONTROL.sub(" ", str(text))
    # dot reads backslashes even in HTML-like labels, after decoding entities (\G and \N become
    # the graph's and node's names, \\ one backslash): a zero-width space after each keeps it literal
    text = text.replace("\\", "\\\u200b")
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def _html(lines, left: bool = False) -> str:
    """An HTML-like label from (text, style) lines; style is '', 'b' (bold), 'small' or 'title'.
    A line may also be a tuple of such pieces. Lines are centred, or left-aligned."""
    out = []
    for line in lines:
        if isinstance(line[0], tuple):  # pieces of one line, each with its style
            out.append("".join(_html_piece(text, style) for text, style in line))
        else:
            out.append(_html_piece(*line))
    if left:
        return "<" + "".join(f'{text}<BR ALIGN="LEFT"/>' for text in out) + ">"
    return "<" + "<BR/>".join(out) + ">"


def _html_piece(text: str, style: str) -> str:
    text = escape(text)
    if style == "b":
        return f"<B>{text}</B>"
    if style == "title":
        return f'<FONT POINT-SIZE="{TITLE_SIZE}"><B>{text}</B></FONT>'
    if style == "small":
        return f'<FONT POINT-SIZE="{SMALL}">{text}</FONT>'
    return text


def describe(layer: ir.LayerNode) -> str:
    """The kind and key hyper-parameters of a layer: 'conv 5x5, 64, /2, pad 2, relu' (the pieces its
    kind declares, then 'no bias' and the activation)."""
    a = layer.args
    parts = list(kind_of(layer).describe(a, present.shown(layer)))
    if a.get("bias") is False:
        parts.append("no bias")
    if layer.activation:
        parts.append(layer.activation)
    return ", ".join(p for p in parts if p)


def _number(value: Optional[int]) -> str:
    return "?" if value is None else f"{value:,}"


def _times(value: Optional[int], times: int) -> Optional[int]:
    """A count times a repeat's iterations; None (unknown) stays unknown."""
    return None if value is None else value * times


_NO_TENSOR = object()  # a title's costs: no memory line


def _cost_lines(counts: Counts, options: DiagramOptions, always: bool, times: int = 1, shape=_NO_TENSOR) -> list:
    """The lines --show asks for: 'params 9,472', 'MACs 118,013,952' ('MACs ?' when unknown until
    run time), FLOPs, pool ops, each `times` over (a box drawn once for a run of that many), and
    the memory of the tensor `shape` (one sample). A layer (always False) shows only the costs it has."""
    lines = []
    for what in SHOW:
        if what not in options.show:
            continue
        if what == "memory":
            if shape is not _NO_TENSOR:
                values = elements(shape)
                text = "?" if values is None else Memory(values, options.dtype, "si").text()
                lines.append((f"memory {text}", "small"))
            continue
        if what == "params":
            value = counts.params * times
        elif what == "pool_ops":
            value = _times(counts.pool_ops, times)
        else:
            value = _times(counts.ops(what), times)
        if value is None or value or always:
            lines.append((f"{_SHOWN_AS.get(what, what)} {_number(value)}", "small"))
    return lines


def _sum_counts(layers, convention: Optional[str]) -> Counts:
    """The report's counts summed over `layers` (None, unknown, when a part is unknown)."""
    total = Counts()
    for layer in layers:
        part = layer_counts(layer, convention)
        total = Counts(*(plus(a, b) for a, b in zip(total, part)))
    return total


def repeat_count(group: ir.Group) -> Optional[int]:
    """How many times a labelled repeat ran."""
    return group.count


def automatic(group: ir.Group) -> bool:
    """Is the group's name one the compiler made up (`concat_1`, `branch_2`, `basic_3` for an
    unlabelled call of block `basic`), rather than a name the author wrote?"""
    return not group.labelled


def _group_title(group: ir.Group, folded: bool = False) -> str:
    """A frame's caption: 'inception_3a: inception', 'stage x3', a branch's name; '' for a frame
    whose name the compiler made up (an unnamed branch, an unlabelled join: the join's oval
    names it). A folded box always has a title: the kind stands in for a made-up name."""
    if group.kind == "block" and group.block:
        if automatic(group) or group.name == group.block:
            return group.block
        return f"{group.name}: {group.block}"
    if _joins(group):
        if automatic(group):
            return group.kind if folded else ""
        return f"{group.name}: {group.kind}"
    if group.kind == "repeat":
        count = repeat_count(group)
        return f"{group.name} x{count}" if count is not None else f"{group.name} (repeat)"
    if group.kind == "branch" and automatic(group):
        return "branch" if folded else ""
    return group.name


def _joins(group: ir.Group) -> bool:
    """Is the group a labelled join (its kind a join's: concat, add)?"""
    kind = lookup(group.kind)
    return kind is not None and kind.joins_branches


def short(layer: ir.LayerNode) -> str:
    """A layer in a folded group's summary: its description without padding and 'no bias'
    ('conv 3x3, 64, /2, relu'): the shapes on the arrows tell what the padding does."""
    shown = present.shown(layer)
    parts = [p for p in kind_of(layer).describe(layer.args, shown) if p and p != shown.pad]
    if layer.activation:
        parts.append(layer.activation)
    return ", ".join(parts)


def _chain(pieces: list) -> str:
    """Pieces joined by arrows, a run of equal ones written once: 'conv 3x3, 64, relu (x2) → max pool 2x2, /2'."""
    out: list = []
    for piece in pieces:
        if out and out[-1][0] == piece:
            out[-1][1] += 1
        else:
            out.append([piece, 1])
    return " \u2192 ".join(p if n == 1 else f"{p} (x{n})" for p, n in out)


def _pieces(group: ir.Group) -> list:
    """The contents of a group in execution order, for a chain: layers in short form, the branches of
    a join in brackets: '[conv 1x1, 64 | identity]'."""
    out: list = []
    run: list = []
    for child in group.children:
        if isinstance(child, ir.Group) and child.kind == "branch":
            run.append(_chain(_pieces(child)) or "identity")
            continue
        if run:
            out.append("[" + " | ".join(run) + "]")
            run = []
        if isinstance(child, ir.LayerNode):
            out.append(short(child))
        else:
            out.extend(_pieces(child))
    if run:
        out.append("[" + " | ".join(run) + "]")
    return out


def _wrap(text: str, width: int = SUMMARY_WIDTH) -> list:
    """Lines of about `width` characters, broken after an arrow or a bar (a layer stays on one
    line); the lines after the first indented."""
    lines: list = []
    line = ""
    for word in re.split(r"(?<=\u2192 )|(?<=\| )", text):
        if line and len(line) + len(word) > width:
            lines.append(line.rstrip())
            line = "\u00a0\u00a0" + word
        else:
            line += word
    if line:
        lines.append(line.rstrip())
    return lines


def summary(body: list) -> list:
    """What a folded group holds, as lines: a few layers one per line, in full ('conv 3x3, 128, pad 1,
    relu'); else one line a statement, in short form: a run of layers as a chain, a branch as
    'name: its chain', a nested block as 'title: its chain'. At most SUMMARY_LINES lines; the rest
    are counted."""
    if not body:
        return ["identity"]
    if len(body) <= LIST_LIMIT and all(isinstance(c, ir.LayerNode) for c in body):
        return [describe(c) for c in body]
    entries: list = []
    layers: list = []
    for child in body:
        if isinstance(child, ir.LayerNode):
            layers.append(short(child))
            continue
        if layers:
            entries.append(_chain(layers))
            layers = []
        title = _group_title(child, folded=True)
        entries.append(f"{title}: {_chain(_pieces(child)) or 'identity'}")
    if layers:
        entries.append(_chain(layers))
    lines = [line for entry in entries for line in _wrap(entry)]
    if len(lines) > SUMMARY_LINES:
        count = sum(1 for c in body for _ in (c.layers() if isinstance(c, ir.Group) else (c,)))
        lines = lines[:SUMMARY_LINES - 1] + [f"... ({count:,} layers in all)"]
    return lines


def _family_fill(layers) -> str:
    families = {layer.family for layer in layers}
    if len(families) == 1:
        return FILL.get(families.pop(), OTHER_FILL)
    return GROUP_FILL


# --- the graph -------------------------------------------------------------------


def _frozen(args: dict):
    """A layer's arguments as a hashable value, for comparing layers."""
    items = tuple(args.items())
    try:
        hash(items)
    except TypeError:
        return repr(items)
    return items


def _tally(counts: list, level: int) -> None:
    while len(counts) <= level:
        counts.append(0)
    counts[level] += 1


def _foldable(node) -> bool:
    """Can node be part of a folded run? Branches run side by side and a join closes them: never."""
    if isinstance(node, ir.LayerNode):
        return node.family != "merge"
    return node.kind != "branch"


@attrs.frozen
class Layout:
    """How a drawing is cut up for paper (see nnlang.emit.paper): for each model drawn, the depth it
    is folded to and the statements of the model that start a new column (indices into the
    statements drawn); and what each page holds: ((model number, first column, end column), ...)."""

    depths: tuple = ()
    cuts: tuple = ()
    sheets: tuple = ()


def _letters(number: int) -> str:
    """A, B, ..., Z, AA, AB, ...: the name of the n-th connector (0: A)."""
    text = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


class _ModelGraph:
    """Nodes, clusters and edges of one model, under identifiers prefixed `m{number}_`.

    For paper (a Layout), the model's own statements may be drawn in several columns side by side,
    an arrow from one column to the next replaced by a pair of connectors (circles with the same
    letter), and a page may hold only some of the columns: the nodes of the others are declared in
    a scratch graph, so that identifiers and connector letters are the same on every page."""

    def __init__(self, model: ir.Model, number: int, options: DiagramOptions, depth=None, cuts: tuple = (),
                 columns: Optional[tuple] = None, pages: Optional[dict] = None, plans: Optional[dict] = None):
        self.model = model
        self.prefix = f"m{number}_"
        self.options = options
        self.display: dict[int, str] = {}  # layer index -> the node that draws it
        self.proxy: dict[int, str] = {}  # id(empty branch) -> its identity node
        self.branches: dict[int, list] = {}  # merge layer index -> its branch groups
        self.groups = 0
        self.open: list = []  # the clusters being filled, outermost first
        self.where: dict[str, tuple] = {}  # node -> the clusters it is drawn in, outermost first
        # plans: what a drawing of the same model at the same depth found (the counts, the folding),
        # kept by a caller that draws it again and again (nnlang.emit.paper)
        known = plans.get((id(model), depth)) if plans is not None else None
        # the report's counts of every group, in one pass: group -> Counts
        self.totals = known[0] if known else ModelReport(model, Options(convention=options.convention)).group_counts
        self.hidden: set = set()  # indices of layers drawn by an earlier repetition of their run
        self.runs: dict = {}  # id(group) -> {child position: (period, repetitions)}, when folded
        self.signatures: dict = {}  # id(node) -> number of its drawing, see signature
        self.drawings: dict = {}  # what a node draws -> its number
        self.depth = depth
        self.folded = ""  # how the drawing is folded, for the title
        self.elide = False  # the model's own statements are too many to draw: the middle ones are left out
        self.junctions: list = []  # (node, branch groups): where one tensor splits into the branches of a join
        self.drawn: set = set()  # what the drawing shows, for the legend: layer families and other marks
        # paper: the model's statements drawn (items), the first item of each column, the columns this
        # page shows (None: all) and the page of every column
        self.cuts = tuple(cuts)
        self.columns = columns
        self.pages = pages or {}
        self.item = -1  # the statement being drawn (-1: the input)
        self.column = 0
        self.item_of: dict = {}  # node or frame -> the statement it belongs to
        self.column_of: dict = {}  # node -> its column
        self.scratch = graphviz.Digraph()  # the nodes of columns on other pages
        self.connectors: list = []  # (tail, head, shape, labelled) on this page, after connect()
        self.heads: list = []  # the first node of each column on this page
        if known:
            self.runs, self.depth, self.folded, self.elide = known[1:]
        elif not options.whole:
            self._bound()
        if plans is not None and not known:
            plans[id(model), depth] = (self.totals, self.runs, self.depth, self.folded, self.elide)

    # size ----------------------------------------------------------------------------
    def _bound(self) -> None:
        """Fold the drawing when it would be too large for Graphviz (MAX_FRAMES, MAX_BOXES)."""
        frames, boxes = self._size(self.model.root, 0)
        if frames <= MAX_FRAMES and boxes <= MAX_BOXES:
            return
        self._plan(self.model.root)
        notes = ["runs of equal layers and blocks drawn once (xN: N times)"]
        census = {"groups": [0], "runs": [0], "layers": [0]}  # frames of groups by level, of runs and
        self._census(self.model.root, 0, census)  # boxes of layers by the level of the group holding them
        groups, runs, layers = (census[k] + [0] * (len(census["groups"]) + 1 - len(census[k]))
                                for k in ("groups", "runs", "layers"))
        deepest = len(census["groups"])  # expanding this deep draws every group as a frame

        def fits(depth: int) -> bool:
            frames = sum(groups[1:depth]) + runs[0] + sum(runs[1:depth])
            boxes = sum(layers[:depth]) + groups[depth]
            return frames <= MAX_FRAMES and boxes <= MAX_BOXES

        asked = deepest if self.depth is None else min(max(self.depth, 1), deepest)
        depth = next((d for d in range(asked, 0, -1) if fits(d)), None)
        self.elide = depth is None  # the model's own statements are too many: the middle ones are left out
        if (depth or 1) != asked:
            self.depth = depth or 1
            notes.append(f"blocks, branches and repeats at depth {self.depth} or deeper drawn as one box each")
        if self.elide:
            notes.append(f"at most {MAX_BOXES:,} boxes: the statements in the middle are left out")
        self.folded = "; ".join(notes)

    def _expanded(self, level: int) -> bool:
        """Is a group at this level (1: in the model) drawn as a frame, rather than as one box?"""
        return self.depth is None or level < max(self.depth, 1)

    def _size(self, group: ir.Group, level: int) -> tuple:
        """Frames and boxes of group's contents drawn whole."""
        frames = boxes = 0
        for child in group.children:
            if isinstance(child, ir.LayerNode):
                boxes += 1
            elif child.kind != "branch" and not self.totals[child].layers:
                continue
            elif self._expanded(level + 1):
                inner = self._size(child, level + 1)
                frames, boxes = frames + 1 + inner[0], boxes + inner[1] + (child.kind == "branch" and not
                                                                         self.totals[child].layers)
            else:
                boxes += 1
            if frames > MAX_FRAMES or boxes > MAX_BOXES:
                break  # large enough to know
        return frames, boxes

    def params(self, layer: ir.LayerNode) -> int:
        """The layer's parameters as the diagram's convention counts them."""
        trainable, non_trainable = layer.counts(self.options.convention)
        return trainable.value + non_trainable.value

    def signature(self, node) -> int:
        """A number for what node draws: equal numbers, equal drawings (names of repetitions aside)."""
        number = self.signatures.get(id(node))
        if number is None:
            if isinstance(node, ir.LayerNode):
                drawing = ("layer", node.kind, node.family, node.label, node.activation, node.input_shape,
                           node.output_shape, present.geometry(node), self.params(node),
                           node.macs.value, _frozen(node.args))
            else:
                drawing = ("group", node.kind, node.block, node.name if node.kind == "branch" else None,
                           node.count, node.output_shape, tuple(self.signature(c) for c in node.children))
            number = self.drawings.setdefault(drawing, len(self.drawings))
            self.signatures[id(node)] = number
        return number

    def _plan(self, group: ir.Group) -> None:
        """Find the runs of equal children in group and the groups below it."""
        children = group.children
        numbers = [self.signature(c) if _foldable(c) else None for c in children]
        runs: dict = {}
        count = len(children)
        i = 0
        while i < count:
            best = covered = 0
            for period in range(1, MAX_PERIOD + 1):
                if i + 2 * period > count:
                    break
                window = numbers[i:i + period]
                if window[-1] is None:
                    break
                times = 1
                while numbers[i + times * period:i + (times + 1) * period] == window:
                    times += 1
                # a longer period costs a frame around the run: it must hide at least two statements
                if times > 1 and times * period > covered and (period == 1 or (times - 1) * period >= 2):
                    best, covered = period, times * period
            if best:
                runs[i] = (best, covered // best)
                for child in children[i:i + best]:
                    if isinstance(child, ir.Group):
                        self._plan(child)
                i += covered
            else:
                if isinstance(children[i], ir.Group):
                    self._plan(children[i])
                i += 1
        if runs:
            self.runs[id(group)] = runs

    def _census(self, group: ir.Group, level: int, census: dict) -> None:
        """Count what the folded drawing holds: frames of groups by their level (1: in the model),
        frames around runs and boxes of layers by the level of the group holding them."""
        runs = self.runs.get(id(group), {})
        children = group.children
        i = 0
        while i < len(children):
            period, times = runs.get(i, (1, 1))
            if period > 1:
                _tally(census["runs"], level)
            for child in children[i:i + period]:
                if isinstance(child, ir.LayerNode):
                    _tally(census["layers"], level)
                elif child.kind == "branch" or self.totals[child].layers:
                    _tally(census["groups"], level + 1)
                    self._census(child, level + 1, census)
            i += period * times

    def _place(self, node: str) -> str:
        self.where[node] = tuple(self.open)
        self.item_of[node] = self.item
        self.column_of[node] = self.column
        return node

    def _frame(self, name: str) -> str:
        self.item_of[name] = self.item
        return name

    # nodes and clusters
    def layer_node(self, graph, layer: ir.LayerNode, chain: str, times: int = 1) -> None:
        node = self._place(f"{self.prefix}L{layer.index}")
        self.display[layer.index] = node
        self.drawn.add(layer.family)
        text = describe(layer)
        if layer.label is None or text == layer.name or text.startswith((layer.name + " ", layer.name + ",")):
            lines = [(text, "")]
        elif self.options.rankdir == "TB":  # one line: a chain of layers stays short
            lines = [((layer.name, "b"), (": " + text, ""))]
        else:  # name above description: the nodes of a left-to-right chain stay narrow
            lines = [(layer.name, "b"), (text, "")]
        if times > 1:
            lines.append((f"x{times}", "b"))
            self.drawn.add("run")
        if self.options.show:
            lines += _cost_lines(layer_counts(layer, self.options.convention), self.options, False, times,
                                 layer.output_shape)
        attributes = {"fillcolor": FILL.get(layer.family, OTHER_FILL)}
        if layer.family == "merge":
            attributes.update(shape="ellipse", style="filled", margin="0.04,0.02")
        elif layer.family == "regularization":
            attributes["style"] = "rounded,filled,dashed"
        graph.node(node, _html(lines), group=chain, **attributes)

    def group_node(self, graph, group: ir.Group, chain: str, times: int = 1) -> None:
        """A folded group: one node with its name and what it holds."""
        self.groups += 1
        node = self._place(f"{self.prefix}G{self.groups}")
        self.drawn.add("folded")
        layers = list(group.layers())
        for layer in layers:
            self.display[layer.index] = node
        if not layers:
            self.proxy[id(group)] = node
        lines = [(_group_title(group, folded=True) + (f" x{times}" if times > 1 else ""), "b")]
        body = group.children
        count = repeat_count(group) if group.kind == "repeat" else None
        if count:
            body = body[: len(body) // count]
        listed = summary(body)
        lines += [(text, "") for text in listed]
        if layers:
            totals = self.totals[group]
            lines += _cost_lines(totals, self.options, True, times, group.output_shape)
        # a few layers listed in full read as a centred column; a summary in short form as indented text
        left = len(body) > LIST_LIMIT or any(isinstance(c, ir.Group) for c in body)
        graph.node(node, _html(lines, left=left), fillcolor=_family_fill(layers), style="filled", peripheries="2",
                   group=chain)

    def identity_node(self, graph, branch: ir.Group) -> None:
        self.groups += 1
        node = self._place(f"{self.prefix}I{self.groups}")
        self.proxy[id(branch)] = node
        self.drawn.add("identity")
        graph.node(node, _html([("identity", "small")]), shape="plaintext", style="", margin="0.02,0.02",
                   height="0.2")

    def junction_node(self, graph, branches: list) -> None:
        """A dot where one tensor splits into the branches of a join: the arrow to it carries the
        tensor's shape once, the arrows from it to the branches carry none."""
        node = self._place(f"{self.prefix}J{len(self.junctions) + 1}")
        self.junctions.append((node, branches))
        self.drawn.add("junction")
        graph.node(node, label="", shape="point", width="0.06", height="0.06", style="filled", fillcolor=INK)

    def _target(self, graph):
        """Where the nodes of the statement being drawn go: this page, or the scratch graph."""
        if self.columns is None or self.columns[0] <= self.column < self.columns[1]:
            return graph
        return self.scratch

    def _items(self, group: ir.Group, level: int) -> list:
        """What to draw of group's children: (first child, period, repetitions) for each child or run of
        equal children, and None for the statements left out of an overlong model."""
        runs = self.runs.get(id(group), {})
        children = group.children
        items = []  # (first child, period, repetitions)
        i = 0
        while i < len(children):
            period, times = runs.get(i, (1, 1))
            items.append((i, period, times))
            i += period * times
        keep = MAX_BOXES // 2 - 1
        if self.elide and level == 0 and len(items) > 2 * keep + 1:
            self.left_out = items[keep:-keep]
            items = items[:keep] + [None] + items[-keep:]
        return items

    def statements(self) -> list:
        """The model's own statements as drawn (see _items): the units columns are made of."""
        return self._items(self.model.root, 0)

    def cuttable(self, items: list) -> list:
        """Whether a column may start at each item: not inside a join (at a branch or its merge)."""
        children = self.model.root.children
        out = []
        for item in items:
            child = children[item[0]] if item is not None else None
            out.append(child is None or _foldable(child))
        return out

    def fill(self, graph, group: ir.Group, level: int, chain: str) -> None:
        """Declare the nodes of `group` in `graph`, with a cluster per unfolded child group.
        The nodes of one group share a Graphviz `group` (`chain`): dot draws their edges straight."""
        run: list = []  # branch groups since the last other child: the next merge's branches
        children = group.children
        items = self._items(group, level)
        top = graph
        for number, item in enumerate(items):
            if level == 0:
                self.item = number
                self.column = bisect.bisect_right(self.cuts, number)
                graph = self._target(top)
            if item is None:
                run = []
                self.elided(graph, [c for i, period, times in self.left_out
                                    for c in children[i:i + period * times]], chain)
                continue
            i, period, times = item
            if times > 1:  # a run of equal children: the first repetition is drawn, with the count
                run = []
                window = children[i:i + period]
                if period == 1:
                    self.child(graph, children[i], level, chain, run, times)
                else:
                    self.run_frame(graph, window, times, level, chain)
                self.hide(window, children[i + period:i + period * times])
            else:
                child = children[i]
                if isinstance(child, ir.Group) and child.kind == "branch" and not run:
                    fan = [child]
                    for other in children[i + 1:]:
                        if not (isinstance(other, ir.Group) and other.kind == "branch"):
                            break
                        fan.append(other)
                    if len(fan) > 1:
                        self.junction_node(graph, fan)
                run = self.child(graph, child, level, chain, run)

    def elided(self, graph, children: list, chain: str) -> None:
        """One box for the statements left out of an overlong drawing."""
        node = self._place(f"{self.prefix}E")
        self.drawn.add("elided")
        layers = [layer for c in children for layer in (c.layers() if isinstance(c, ir.Group) else (c,))]
        for layer in layers:
            self.display[layer.index] = node
        lines = [(f"... {len(layers):,} layer{'s' if len(layers) != 1 else ''} not drawn ...", "b")]
        if layers and self.options.show:
            lines += _cost_lines(_sum_counts(layers, self.options.convention), self.options, True,
                                 shape=layers[-1].output_shape)
        graph.node(node, _html(lines), fillcolor=GROUP_FILL, style="filled,dashed", group=chain)

    def run_frame(self, graph, window: list, times: int, level: int, chain: str) -> None:
        """A frame captioned xN around the first repetition of a run of several statements."""
        self.groups += 1
        number = self.groups
        self.drawn.add("run")
        inside = [layer for c in window for layer in (c.layers() if isinstance(c, ir.Group) else (c,))]
        title = [(f"x{times}", "b")]
        if inside and self.options.show:
            title += _cost_lines(_sum_counts(inside, self.options.convention), self.options, True, times,
                                 inside[-1].output_shape)
        name = self._frame(f"cluster_{self.prefix}g{number}")
        self.open.append(name)
        with graph.subgraph(name=name) as cluster:
            cluster.attr(label=_html(title, left=True), labeljust="l", labelloc="b", fontsize=str(FONT_SIZE),
                         style="rounded,dashed", color="#666666", penwidth="0.8", margin="6")
            run: list = []
            for child in window:
                run = self.child(cluster, child, level, chain, run)
        self.open.pop()

    def hide(self, window: list, repetitions: list) -> None:
        """Draw the layers of the later repetitions of a run as the first repetition's nodes."""
        first = [layer for c in window for layer in (c.layers() if isinstance(c, ir.Group) else (c,))]
        for start in range(0, len(repetitions), len(window)):
            again = [layer for c in repetitions[start:start + len(window)]
                     for layer in (c.layers() if isinstance(c, ir.Group) else (c,))]
            for shown, layer in zip(first, again):
                self.display[layer.index] = self.display[shown.index]
                self.hidden.add(layer.index)

    def child(self, graph, child, level: int, chain: str, run: list, times: int = 1) -> list:
        """Draw one child of a group (times: drawn once for a run of that many); returns the branch
        groups seen since the last other child."""
        if isinstance(child, ir.LayerNode):
            if child.family == "merge" and run:
                self.branches[child.index] = list(run)
            self.layer_node(graph, child, chain, times)
            return []
        run = run + [child] if child.kind == "branch" else []
        totals = self.totals[child]
        if child.kind != "branch" and not totals.layers:
            return run  # an empty block or repeat: the tensor passes through, nothing to draw
        if not self._expanded(level + 1):
            self.group_node(graph, child, chain, times)
            return run
        self.groups += 1
        number = self.groups
        branch = child.kind == "branch"
        self.drawn.add("branch" if branch else "frame")
        caption = _group_title(child)
        if times > 1:  # the count needs a caption: an unnamed join's or branch's kind
            caption = f"{caption or _group_title(child, folded=True)} x{times}"
        title = [(caption, "b")] if caption else []
        if totals.layers:
            title += _cost_lines(totals, self.options, True, times, child.output_shape)
        name = self._frame(f"cluster_{self.prefix}g{number}")
        self.open.append(name)
        with graph.subgraph(name=name) as cluster:
            # the title at the foot: edges come in from above, and leave from the frame's border
            # no caption: an empty label, else the frame would show the caption of the frame around it
            caption = {"label": _html(title, left=True), "labeljust": "l", "labelloc": "b"} if title else {"label": ""}
            cluster.attr(**caption, fontsize=str(FONT_SIZE),
                         style="rounded,filled,dashed" if branch else "rounded,filled",
                         fillcolor="#ffffff" if branch else CLUSTER_FILL[level % 2],
                         color="#8c8c8c" if branch else "#666666", penwidth="0.8", margin="6")
            if branch and not totals.layers:
                self.identity_node(cluster, child)
            self.fill(cluster, child, level + 1, f"{self.prefix}c{number}")
        self.open.pop()
        return run

    def title_lines(self, continued: bool = False) -> list:
        model = self.model
        if continued:
            return [(f"{model.name} (continued)", "title")]
        lines = [(model.name, "title")]
        lines += _cost_lines(self.totals[model.root], self.options, True)
        if self.folded:
            lines.append((f"folded: {self.folded}", "small"))
        return lines

    def nodes(self, graph) -> None:
        model = self.model
        self.item, self.column = -1, 0
        graph_in = self._target(graph)
        graph_in.node(self._place(f"{self.prefix}in"), _html([("input", "b"), (fmt_shape(model.input_shape), "")]),
                      fillcolor=FILL["input"], style="filled", group=f"{self.prefix}c0")
        self.fill(graph, model.root, 0, f"{self.prefix}c0")
        self.item, self.column = len(self.statements()), len(self.cuts)
        self._target(graph).node(self._place(f"{self.prefix}out"),
                                 _html([("output", "b"), (fmt_shape(model.output_shape), "")]),
                                 fillcolor=FILL["input"], style="filled", group=f"{self.prefix}c0")
        self.connect(graph)

    def connect(self, graph) -> None:
        """The edges this page draws; an edge from one column to another becomes two connectors with
        the same letter, at the foot of the first column and at the head of the second (naming the
        other page when the columns are on different pages)."""
        first, end = self.columns if self.columns is not None else (0, len(self.cuts) + 1)
        heads = {0: f"{self.prefix}in"} if first == 0 else {}
        letters = 0
        for tail, head, shape, labelled in self.edges():
            source, target = self.column_of[tail], self.column_of[head]
            if source == target:
                if first <= source < end:
                    self.connectors.append((tail, head, shape, labelled))
                continue
            letter = _letters(letters)
            letters += 1
            self.drawn.add("connector")
            if first <= source < end:
                node = self._connector(graph, letter, "o", source, self.pages.get(target))
                self.connectors.append((tail, node, shape, labelled))
            if first <= target < end:
                node = self._connector(graph, letter, "i", target, self.pages.get(source), into=True)
                self.connectors.append((node, head, shape, self.options.labels == "all"))
                heads.setdefault(target, node)
        self.heads = [heads[c] for c in sorted(heads)]

    def _connector(self, graph, letter: str, end: str, column: int, page: Optional[int], into: bool = False) -> str:
        self.column = column
        self.item = None
        node = self._place(f"{self.prefix}K{letter}{end}")
        if page is None or page == self.pages.get(column):
            graph.node(node, _html([(letter, "b")]), shape="circle", style="filled", fillcolor="#ffffff",
                       width="0.3", fixedsize="true", margin="0")
        else:
            where = f"from page {page}" if into else f"to page {page}"
            graph.node(node, _html([(letter, "b"), (where, "small")]), shape="box", style="rounded,filled",
                       fillcolor="#ffffff")
        return node

    def branch_heads(self) -> list:
        """For every join, the first node of each of its branches: drawn side by side on one rank,
        so a module reads as parallel columns that start together."""
        out = []
        for index in sorted(self.branches):
            heads = []
            for branch in self.branches[index]:
                first = next(branch.layers(), None)
                node = self.proxy.get(id(branch)) or (self.display.get(first.index) if first else None)
                if node is not None and node not in heads:
                    heads.append(node)
            if len(heads) > 1 and all(self._on_page(node) for node in heads):
                out.append(heads)
        return out

    def _on_page(self, node: str) -> bool:
        return self.columns is None or self.columns[0] <= self.column_of.get(node, 0) < self.columns[1]

    def leaving(self, tail: str, head: str) -> Optional[str]:
        """The outermost cluster that holds `tail` but not `head`: the edge is drawn from its border,
        so it never runs through the titles at the foot of the clusters it leaves."""
        inside, target = self.where.get(tail, ()), self.where.get(head, ())
        for depth, cluster in enumerate(inside):
            if depth >= len(target) or target[depth] != cluster:
                return cluster
        return None

    # edges
    def edges(self) -> list:
        """(tail, head, shape text, labelled), in execution order, without repeats. Where one tensor
        feeds the branches of a join, it goes to a junction first (one label), then to each branch;
        with --labels changed an edge is labelled only when its shape is not one entering its tail."""
        model = self.model
        seen: set = set()
        out: list = []
        incoming: dict = {f"{self.prefix}in": {fmt_shape(model.input_shape)}}
        labels = self.options.labels
        entry: dict = {}  # the first layer of a branch (or id of an empty branch) -> its junction
        parent: dict = {}  # junction -> the junction it hangs from (a join first in a branch of a join)
        for junction, branches in self.junctions:
            for branch in branches:
                first = next(branch.layers(), None)
                key = first.index if first is not None else ("empty", id(branch))
                if key in entry and junction not in parent:
                    parent[junction] = entry[key]
                entry[key] = junction

        def shape_of(index: int) -> str:
            if index < 0:
                return fmt_shape(model.input_shape)
            return fmt_shape(model.layers[index].output_shape)

        def node_of(index: int) -> str:
            return f"{self.prefix}in" if index < 0 else self.display[index]

        def edge(tail: str, head: str, shape: str, bare: bool = False) -> None:
            if tail != head and (tail, head) not in seen:
                seen.add((tail, head))
                if labels == "all":
                    labelled = not bare
                elif labels == "changed":
                    labelled = not bare and shape not in incoming.get(tail, ())
                else:
                    labelled = False
                incoming.setdefault(head, set()).add(shape)
                out.append((tail, head, shape, labelled))

        def route(source: int, head: str, key) -> None:
            shape = shape_of(source)
            chain = []
            junction = entry.get(key)
            while junction is not None:
                chain.append(junction)
                junction = parent.get(junction)
            chain.reverse()  # the outermost first
            edge(node_of(source), chain[0] if chain else head, shape)
            for tail, into in zip(chain, chain[1:] + [head]):
                edge(tail, into, shape, bare=True)

        for layer in model.layers:
            if layer.index in self.hidden:
                continue  # its edges are the first repetition's
            head = self.display[layer.index]
            branches = self.branches.get(layer.index, [])
            for position, source in enumerate(layer.inputs):
                branch = branches[position] if position < len(branches) else None
                through = self.proxy.get(id(branch)) if branch is not None else None
                if through is not None:
                    route(source, through, ("empty", id(branch)))
                    edge(through, head, shape_of(source))
                else:
                    route(source, head, layer.index)
        last = model.layers[-1].index if model.layers else -1
        edge(node_of(last), f"{self.prefix}out", fmt_shape(model.output_shape))
        return out


def _legend(parts: list, options: DiagramOptions) -> str:
    """The legend: what the fills, shapes, frames and arrow labels of this drawing mean (only what it shows)."""
    drawn = set().union(*(part.drawn for part in parts))
    rows = []

    def row(swatch: str, text: str, fill: str = "#ffffff", style: str = "") -> None:
        attributes = f' BGCOLOR="{fill}"' + (f' STYLE="{style}"' if style else "")
        rows.append(f'<TR><TD WIDTH="26" HEIGHT="14" BORDER="1"{attributes}>{escape(swatch)}</TD>'
                    f'<TD ALIGN="LEFT" BORDER="0">{escape(text)}</TD></TR>')

    row("", "input, output", FILL["input"])
    for family, text in (("conv", "convolution"), ("dense", "dense, embedding"), ("recurrent", "recurrent"),
                         ("norm", "normalization"), ("pool", "pooling"), ("activation", "activation"),
                         ("reshape", "flatten, reshape, padding, upsampling"),
                         ("regularization", "dropout (dashed border)"), ("merge", "concat, add (oval)")):
        if family in drawn:
            row("", text, FILL[family])
    if drawn - set(FILL) - {"folded", "frame", "branch", "junction", "identity", "run", "connector", "elided"}:
        row("", "other layers", OTHER_FILL)
    if "folded" in drawn:
        row("", "a block or branch drawn as one box (double border)", GROUP_FILL)
    if "frame" in drawn:
        row("", "grey frame: a block, labelled join or repeat", CLUSTER_FILL[0])
    if "branch" in drawn:
        row("", "dashed frame: a branch of a join", "#ffffff", "dashed")
    if "identity" in drawn:
        row("", "identity: a branch that passes its input on")
    if "run" in drawn:
        row("xN", "drawn once for N equal statements")
    if "junction" in drawn:
        row("\u2022", "one tensor feeding every branch of a join")
    if "connector" in drawn:
        row("A", "continues at the circle with the same letter")
    arrows = {"all": "the tensor's shape on every arrow, batch left out (HxWxC)",
              "changed": "the tensor's shape (HxWxC, batch left out) where it changes; a bare arrow "
                         "carries the shape before it",
              "none": "arrows carry no shapes"}[options.labels]
    row("\u2192", arrows)
    costs = [_SHOWN_AS.get(what, what) for what in SHOW if what in options.show]
    if costs:
        row("", f"{', '.join(costs)}: per layer; frames, folded boxes and the title add up what they hold")
    return ('<<TABLE BORDER="1" COLOR="#999999" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1">'
            '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>Legend</B></TD></TR>' + "".join(rows) + "</TABLE>>")


def build(models, options: DiagramOptions = DiagramOptions(), layout: Optional[Layout] = None, page: int = 0,
          viewport: Optional[str] = None) -> graphviz.Digraph:
    """The diagram of one model, or of several side by side (one cluster each). With a layout, the
    page `page` of it; `viewport` (Graphviz's W,H,Z,x,y) places the drawing on a page of paper."""
    return _build(models, options, layout, page, viewport)[0]


def _build(models, options: DiagramOptions, layout: Optional[Layout] = None, page: int = 0,
           viewport: Optional[str] = None, plans: Optional[dict] = None) -> tuple:
    """(the graph, the _ModelGraph of every model drawn); `plans` keeps what drawing a model found
    for the next drawing of it (the models must stay alive and unchanged meanwhile)."""
    models = list(models)
    graph = graphviz.Digraph("nnc")
    graph.attr(rankdir=options.rankdir, fontname=FONT, fontsize=str(FONT_SIZE), bgcolor="white",
               nodesep="0.2", ranksep="0.2", pad="0" if viewport else PAD, labelloc="t", newrank="true",
               compound="true", margin="0")
    if viewport:
        graph.attr(viewport=viewport)
    if options.dpi:
        graph.attr(dpi=str(options.dpi))
    graph.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize=str(FONT_SIZE),
               color=INK, fontcolor="black", penwidth="0.8", margin="0.08,0.04", height="0.3")
    graph.attr("edge", fontname=FONT, fontsize=str(SMALL), color=INK, fontcolor=INK, arrowsize="0.6",
               penwidth="0.8")
    if layout is None or not layout.sheets:
        shown = [(number, None) for number in range(len(models))]
    else:
        shown = [(number, (first, end)) for number, first, end in layout.sheets[page]]
    pages: dict = {}  # model number -> {column: page number (from 1)}
    if layout is not None:
        for number_of_page, sheet in enumerate(layout.sheets, 1):
            for number, first, end in sheet:
                for column in range(first, end):
                    pages.setdefault(number, {})[column] = number_of_page
    parts = []
    for number, columns in shown:
        depth = layout.depths[number] if layout is not None and layout.depths else options.depth
        cuts = layout.cuts[number] if layout is not None and layout.cuts else ()
        parts.append(_ModelGraph(models[number], number, options, depth, cuts, columns, pages.get(number), plans))
    for part in parts:
        continued = part.columns is not None and part.columns[0] > 0
        if len(parts) == 1:
            graph.attr(label=_html(part.title_lines(continued)))
            part.nodes(graph)
            _same_rank(graph, part.heads)
        else:
            with graph.subgraph(name=f"cluster_{part.prefix}model") as cluster:
                cluster.attr(label=_html(part.title_lines(continued)), labeljust="c", style="solid",
                             color="#999999", penwidth="0.8", margin="12")
                part.nodes(cluster)
                _same_rank(cluster, part.heads)
    for part in parts:
        for tail, head, shape, labelled in part.connectors:
            attributes = {"label": _html([(shape, "")])} if labelled else {}
            leaving = part.leaving(tail, head)
            if leaving:
                attributes["ltail"] = leaving
            graph.edge(tail, head, **attributes)
        for heads in part.branch_heads():
            with graph.subgraph() as same:
                same.attr(rank="same")
                for node in heads:
                    same.node(node)
    last = len(layout.sheets) - 1 if layout is not None and layout.sheets else 0
    if options.legend and page == last:  # below the last output
        graph.node("legend", _legend(parts, options), shape="plaintext", style="", margin="0")
        graph.edge(f"{parts[-1].prefix}out", "legend", style="invis")
    return graph, parts


def _same_rank(graph, heads: list) -> None:
    """The first nodes of the columns of a model side by side, in order, on one rank."""
    if len(heads) < 2:
        return
    with graph.subgraph() as same:
        same.attr(rank="same")
        for tail, head in zip(heads, heads[1:]):
            same.edge(tail, head, style="invis")


def source(models, options: DiagramOptions = DiagramOptions()) -> str:
    """The DOT text of the diagram."""
    return build(models, options).source


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \((D:[^)]*)\)")


def _fixed_date(match: re.Match) -> bytes:
    """The PDF's date set to 1970-01-01, keeping its length (the cross-reference offsets stay valid)."""
    date = match.group(2)
    if len(date) < 16:
        return match.group(0)
    fixed = b"D:19700101000000" + re.sub(rb"\d", b"0", date[16:])
    return b"/" + match.group(1) + b" (" + fixed + b")"


def render(models, options: DiagramOptions, fmt: str) -> bytes:
    """The diagram in `fmt` (svg, png or pdf), rendered by Graphviz's dot.

    Raises graphviz.ExecutableNotFound when dot is not installed.
    """
    if fmt == "png" and options.dpi is None:
        options = attrs.evolve(options, dpi=PNG_DPI)
    return fixed(build(models, options).pipe(format=fmt), fmt)


def fixed(data: bytes, fmt: str) -> bytes:
    """Rendered bytes that do not depend on the time: cairo stamps a PDF with the time of rendering."""
    if fmt == "pdf":
        data = _PDF_DATE.sub(_fixed_date, data)
    return data
