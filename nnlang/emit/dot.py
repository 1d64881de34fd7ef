"""Graphviz diagrams of compiled models (`nnc diagram`).

One node per layer, with its kind and key hyper-parameters; the tensor shape
that flows along every edge (channels last, as Keras prints it); blocks,
branches, labelled joins and labelled repeats as labelled clusters.

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

import re
from typing import Optional

import attrs
import graphviz

from .. import ir, present
from ..report import ModelReport, Options
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

#: A folded block lists its layers when it has at most this many; else it counts them.
LIST_LIMIT = 4

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


def _cost_lines(params: int, macs: Optional[int], options: DiagramOptions, always: bool) -> list:
    """'params 9,472' and 'MACs 118,013,952' lines ('MACs ?' when unknown until run time); a layer
    shows only the costs it has."""
    lines = []
    if "params" in options.show and (params or always):
        lines.append((f"params {_number(params)}", "small"))
    if "macs" in options.show and (macs is None or macs or always):
        lines.append((f"MACs {_number(macs)}", "small"))
    return lines


def repeat_count(group: ir.Group) -> Optional[int]:
    """How many times a labelled repeat ran."""
    return group.count


def _group_title(group: ir.Group) -> str:
    if group.kind == "block" and group.block and group.name != group.block \
            and not re.fullmatch(re.escape(group.block) + r"_\d+", group.name):
        return f"{group.name}: {group.block}"
    if _joins(group) and not re.fullmatch(group.kind + r"_\d+", group.name):
        return f"{group.name}: {group.kind}"
    if group.kind == "repeat":
        count = repeat_count(group)
        return f"{group.name} x{count}" if count is not None else f"{group.name} (repeat)"
    return group.name


def _joins(group: ir.Group) -> bool:
    """Is the group a labelled join (its kind a join's: concat, add)?"""
    kind = lookup(group.kind)
    return kind is not None and kind.joins_branches


def _brief(node) -> str:
    """One line for a layer or a group inside a folded group: 'conv 3x3, 64', 'basic (7 layers)',
    'b1: conv 1x1, 64, relu'."""
    if isinstance(node, ir.LayerNode):
        return describe(node)
    layers = list(node.layers())
    if node.kind == "branch":
        if len(layers) <= 1:
            return f"{node.name}: {describe(layers[0]) if layers else 'identity'}"
        what = node.name
    else:
        what = node.block if node.kind == "block" and node.block else node.kind
    return f"{what} ({len(layers)} layer{'s' if len(layers) != 1 else ''})"


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


class _ModelGraph:
    """Nodes, clusters and edges of one model, under identifiers prefixed `m{number}_`."""

    def __init__(self, model: ir.Model, number: int, options: DiagramOptions):
        self.model = model
        self.prefix = f"m{number}_"
        self.options = options
        self.display: dict[int, str] = {}  # layer index -> the node that draws it
        self.proxy: dict[int, str] = {}  # id(empty branch) -> its identity node
        self.branches: dict[int, list] = {}  # merge layer index -> its branch groups
        self.groups = 0
        self.open: list = []  # the clusters being filled, outermost first
        self.where: dict[str, tuple] = {}  # node -> the clusters it is drawn in, outermost first
        # the report's counts of every group, in one pass: group -> Counts
        self.totals = ModelReport(model, Options(convention=options.convention)).group_counts
        self.hidden: set = set()  # indices of layers drawn by an earlier repetition of their run
        self.runs: dict = {}  # id(group) -> {child position: (period, repetitions)}, when folded
        self.signatures: dict = {}  # id(node) -> number of its drawing, see signature
        self.drawings: dict = {}  # what a node draws -> its number
        self.depth = options.depth
        self.folded = ""  # how the drawing is folded, for the title
        self.elide = False  # the model's own statements are too many to draw: the middle ones are left out
        if not options.whole:
            self._bound()

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
        return node

    # nodes and clusters
    def layer_node(self, graph, layer: ir.LayerNode, chain: str, times: int = 1) -> None:
        node = self._place(f"{self.prefix}L{layer.index}")
        self.display[layer.index] = node
        text = describe(layer)
        if layer.label is None or text == layer.name or text.startswith((layer.name + " ", layer.name + ",")):
            lines = [(text, "")]
        elif self.options.rankdir == "TB":  # one line: a chain of layers stays short
            lines = [((layer.name, "b"), (": " + text, ""))]
        else:  # name above description: the nodes of a left-to-right chain stay narrow
            lines = [(layer.name, "b"), (text, "")]
        if times > 1:
            lines.append((f"x{times}", "b"))
        lines += _cost_lines(self.params(layer) * times, _times(layer.macs.value, times), self.options, always=False)
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
        layers = list(group.layers())
        for layer in layers:
            self.display[layer.index] = node
        if not layers:
            self.proxy[id(group)] = node
        lines = [(_group_title(group) + (f" x{times}" if times > 1 else ""), "b")]
        body = group.children
        count = repeat_count(group) if group.kind == "repeat" else None
        if count:
            body = body[: len(body) // count]
        if not body:
            lines.append(("identity", ""))
        elif len(body) <= LIST_LIMIT:
            lines += [(_brief(c), "") for c in body]
        else:
            inner = sum(1 for c in body for _ in (c.layers() if isinstance(c, ir.Group) else (c,)))
            lines.append((f"{inner} layers" + (" each time" if count else ""), ""))
        if layers:
            totals = self.totals[group]
            lines += _cost_lines(totals.params * times, _times(totals.macs, times), self.options, always=True)
        graph.node(node, _html(lines), fillcolor=_family_fill(layers), style="filled", peripheries="2",
                   group=chain)

    def identity_node(self, graph, branch: ir.Group) -> None:
        self.groups += 1
        node = self._place(f"{self.prefix}I{self.groups}")
        self.proxy[id(branch)] = node
        graph.node(node, _html([("identity", "small")]), shape="plaintext", style="", margin="0.02,0.02",
                   height="0.2")

    def fill(self, graph, group: ir.Group, level: int, chain: str) -> None:
        """Declare the nodes of `group` in `graph`, with a cluster per unfolded child group.
        The nodes of one group share a Graphviz `group` (`chain`): dot draws their edges straight."""
        run: list = []  # branch groups since the last other child: the next merge's branches
        runs = self.runs.get(id(group), {})
        children = group.children
        items = []  # (first child, period, repetitions)
        i = 0
        while i < len(children):
            period, times = runs.get(i, (1, 1))
            items.append((i, period, times))
            i += period * times
        keep = MAX_BOXES // 2 - 1
        left_out = None
        if self.elide and level == 0 and len(items) > 2 * keep + 1:
            left_out = items[keep:-keep]
            items = items[:keep] + [None] + items[-keep:]
        for item in items:
            if item is None:
                run = []
                self.elided(graph, [c for i, period, times in left_out for c in children[i:i + period * times]],
                            chain)
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
                run = self.child(graph, children[i], level, chain, run)

    def elided(self, graph, children: list, chain: str) -> None:
        """One box for the statements left out of an overlong drawing."""
        node = self._place(f"{self.prefix}E")
        layers = [layer for c in children for layer in (c.layers() if isinstance(c, ir.Group) else (c,))]
        for layer in layers:
            self.display[layer.index] = node
        lines = [(f"... {len(layers):,} layer{'s' if len(layers) != 1 else ''} not drawn ...", "b")]
        if layers:
            totals = ir.Totals.of(layers, self.options.convention)
            lines += _cost_lines(totals.params, totals.macs, self.options, always=True)
        graph.node(node, _html(lines), fillcolor=GROUP_FILL, style="filled,dashed", group=chain)

    def run_frame(self, graph, window: list, times: int, level: int, chain: str) -> None:
        """A frame captioned xN around the first repetition of a run of several statements."""
        self.groups += 1
        number = self.groups
        inside = [layer for c in window for layer in (c.layers() if isinstance(c, ir.Group) else (c,))]
        title = [(f"x{times}", "b")]
        if inside:
            totals = ir.Totals.of(inside, self.options.convention)
            title += _cost_lines(totals.params * times, _times(totals.macs, times), self.options, always=True)
        name = f"cluster_{self.prefix}g{number}"
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
        title = [(_group_title(child) + (f" x{times}" if times > 1 else ""), "b")]
        if totals.layers:
            title += _cost_lines(totals.params * times, _times(totals.macs, times), self.options, always=True)
        name = f"cluster_{self.prefix}g{number}"
        self.open.append(name)
        with graph.subgraph(name=name) as cluster:
            # the title at the foot: edges come in from above, and leave from the frame's border
            cluster.attr(label=_html(title, left=True), labeljust="l", labelloc="b", fontsize=str(FONT_SIZE),
                         style="rounded,filled,dashed" if branch else "rounded,filled",
                         fillcolor="#ffffff" if branch else CLUSTER_FILL[level % 2],
                         color="#8c8c8c" if branch else "#666666", penwidth="0.8", margin="6")
            if branch and not totals.layers:
                self.identity_node(cluster, child)
            self.fill(cluster, child, level + 1, f"{self.prefix}c{number}")
        self.open.pop()
        return run

    def title_lines(self) -> list:
        model = self.model
        lines = [(model.name, "title")]
        totals = model.totals(self.options.convention)
        lines += _cost_lines(totals.params, totals.macs, self.options, always=True)
        if self.folded:
            lines.append((f"folded: {self.folded}", "small"))
        return lines

    def nodes(self, graph) -> None:
        model = self.model
        graph.node(f"{self.prefix}in", _html([("input", "b"), (fmt_shape(model.input_shape), "")]),
                   fillcolor=FILL["input"], style="filled", group=f"{self.prefix}c0")
        self.fill(graph, model.root, 0, f"{self.prefix}c0")
        graph.node(f"{self.prefix}out", _html([("output", "b"), (fmt_shape(model.output_shape), "")]),
                   fillcolor=FILL["input"], style="filled", group=f"{self.prefix}c0")

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
            if len(heads) > 1:
                out.append(heads)
        return out

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
        """(tail, head, shape text), in execution order, without repeats."""
        model = self.model
        seen: set = set()
        out: list = []

        def shape_of(index: int) -> str:
            if index < 0:
                return fmt_shape(model.input_shape)
            return fmt_shape(model.layers[index].output_shape)

        def node_of(index: int) -> str:
            return f"{self.prefix}in" if index < 0 else self.display[index]

        def edge(tail: str, head: str, shape: str) -> None:
            if tail != head and (tail, head) not in seen:
                seen.add((tail, head))
                out.append((tail, head, shape))

        for layer in model.layers:
            if layer.index in self.hidden:
                continue  # its edges are the first repetition's
            head = self.display[layer.index]
            branches = self.branches.get(layer.index, [])
            for position, source in enumerate(layer.inputs):
                branch = branches[position] if position < len(branches) else None
                through = self.proxy.get(id(branch)) if branch is not None else None
                if through is not None:
                    edge(node_of(source), through, shape_of(source))
                    edge(through, head, shape_of(source))
                else:
                    edge(node_of(source), head, shape_of(source))
        last = model.layers[-1].index if model.layers else -1
        edge(node_of(last), f"{self.prefix}out", fmt_shape(model.output_shape))
        return out


def build(models, options: DiagramOptions = DiagramOptions()) -> graphviz.Digraph:
    """The diagram of one model, or of several side by side (one cluster each)."""
    models = list(models)
    graph = graphviz.Digraph("nnc")
    graph.attr(rankdir=options.rankdir, fontname=FONT, fontsize=str(FONT_SIZE), bgcolor="white",
               nodesep="0.2", ranksep="0.2", pad="0.25", labelloc="t", newrank="true",
               compound="true")
    if options.dpi:
        graph.attr(dpi=str(options.dpi))
    graph.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize=str(FONT_SIZE),
               color=INK, fontcolor="black", penwidth="0.8", margin="0.08,0.04", height="0.3")
    graph.attr("edge", fontname=FONT, fontsize=str(SMALL), color=INK, fontcolor=INK, arrowsize="0.6",
               penwidth="0.8")
    parts = [_ModelGraph(model, number, options) for number, model in enumerate(models)]
    for part in parts:
        if len(parts) == 1:
            graph.attr(label=_html(part.title_lines()))
            part.nodes(graph)
        else:
            with graph.subgraph(name=f"cluster_{part.prefix}model") as cluster:
                cluster.attr(label=_html(part.title_lines()), labeljust="c", style="solid", color="#999999",
                             penwidth="0.8", margin="12")
                part.nodes(cluster)
    for part in parts:
        for tail, head, shape in part.edges():
            leaving = part.leaving(tail, head)
            if leaving:
                graph.edge(tail, head, label=_html([(shape, "")]), ltail=leaving)
            else:
                graph.edge(tail, head, label=_html([(shape, "")]))
        for heads in part.branch_heads():
            with graph.subgraph() as same:
                same.attr(rank="same")
                for node in heads:
                    same.node(node)
    return graph


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
    data = build(models, options).pipe(format=fmt)
    if fmt == "pdf":  # cairo stamps the time of rendering: same input, same bytes
        data = _PDF_DATE.sub(_fixed_date, data)
    return data
