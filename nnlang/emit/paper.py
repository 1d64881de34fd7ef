"""Diagrams on paper: `nnc diagram FILE -o OUT.pdf --page a4` (docs/diagrams.md, On paper).

The drawing is fitted to pages of the paper size, inside MARGIN, at a scale that never prints
text smaller than MIN_TEXT points (the smallest text of a drawing is dot.SMALL points, so the
scale is at least MIN_SCALE), and never enlarges it. What does not fit is made to fit, keeping
as much detail as one page can hold:

1. the drawing as it is, scaled down if need be;
2. the model's own statements wrapped into columns side by side (an arrow from the foot of one
   column to the head of the next becomes a pair of connectors with the same letter);
3. both again with the deepest blocks, branches and repeats folded into one box each, level by
   level up to the model's own statements (`--depth 1`), unless --depth or --whole says how
   deep to draw;
4. else the columns are spread over as many pages as they need (connectors name the page).

Several models share a page when they fit on it together, each as it fits alone; else each
has pages of its own. Every page is laid out by Graphviz first (`dot -Tjson`), to measure
it; the page's DOT then carries a `viewport` that places the drawing on the sheet, centred
across and from the top margin down, at the scale chosen (one scale for all the pages of a
document), so that any Graphviz renders the same page.
"""

from __future__ import annotations

import json
from typing import NamedTuple, Optional

import attrs

from . import dot
from .pdf import join

#: Paper sizes in points (1/72 in), portrait.
PAPER = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}
MARGIN = 42.52  # 15 mm on every side
MIN_TEXT = 8.0  # points, at print size
MIN_SCALE = MIN_TEXT / min(dot.FONT_SIZE, dot.SMALL, dot.TITLE_SIZE)
MAX_COLUMNS = 12


class TooManyPages(Exception):
    """The drawing needs more pages than the format holds (SVG and PNG hold one)."""

    def __init__(self, pages: int):
        super().__init__(pages)
        self.pages = pages


class _Measure(NamedTuple):
    width: float  # points, at natural size
    height: float
    bb: tuple  # x0, y0, x1, y1 in Graphviz's coordinates (y upwards)
    items: dict  # model number -> [(start, end, width) of each statement along the rank axis, or None]


@attrs.frozen
class Sheets:
    """The pages of a drawing: the layout, the scale of every page, and the viewport of each."""

    layout: dot.Layout
    scale: float
    viewports: tuple
    paper: str
    plans: dict = attrs.field(factory=dict, eq=False, repr=False)  # see dot._build

    @property
    def pages(self) -> int:
        return len(self.viewports)

    @property
    def legible(self) -> bool:
        """Is the smallest text at least MIN_TEXT points on paper?"""
        return self.scale >= MIN_SCALE - 1e-9


def _measure(models: list, options: dot.DiagramOptions, layout: dot.Layout, page: int = 0,
             plans: Optional[dict] = None) -> _Measure:
    graph, parts = dot._build(models, attrs.evolve(options, dpi=None), layout, page, plans=plans)
    data = json.loads(graph.pipe(format="json").decode("utf-8"))
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    across = options.rankdir == "TB"
    items: dict = {}
    for part in parts:
        number = int(part.prefix[1:-1])
        count = len(part.statements())
        spans: list = [None] * count
        for obj in data.get("objects", []):
            item = part.item_of.get(obj.get("name"))
            if item is None:
                continue
            item = min(max(item, 0), count - 1) if count else 0
            if "bb" in obj:
                a, b, c, d = (float(v) for v in obj["bb"].split(","))
            elif "pos" in obj:
                x, y = (float(v) for v in obj["pos"].split(","))
                w, h = float(obj.get("width", 0)) * 36, float(obj.get("height", 0)) * 36
                a, b, c, d = x - w, y - h, x + w, y + h
            else:
                continue
            # along the ranks from the first (the top, or the left with LR); across them
            start, end = (y1 - d, y1 - b) if across else (a - x0, c - x0)
            low, high = (a, c) if across else (b, d)
            if count:
                old = spans[item]
                spans[item] = (start, end, low, high) if old is None else \
                    (min(old[0], start), max(old[1], end), min(old[2], low), max(old[3], high))
        items[number] = spans
    return _Measure(x1 - x0, y1 - y0, (x0, y0, x1, y1), items)


def _size(measure: _Measure) -> tuple:
    return measure.width, measure.height


def _scale(measure: _Measure, room: tuple) -> float:
    return min(1.0, room[0] / measure.width, room[1] / measure.height) if measure.width and measure.height else 1.0


def _columns(spans: list, cuttable: list, limit: float) -> tuple:
    """The statements that start a column, when each column is at most `limit` long (where it can
    be cut: a column holding one statement longer than that is as long as the statement)."""
    cuts = []
    top = None
    for number, span in enumerate(spans):
        if span is None:
            continue
        if top is None:
            top = span[0]
        elif cuttable[number] and span[1] - top > limit:
            cuts.append(number)
            top = span[0]
    return tuple(cuts)


def _balanced(spans: list, cuttable: list, count: int) -> tuple:
    """Cuts into at most `count` columns, the longest as short as can be."""
    known = [s for s in spans if s is not None]
    if not known:
        return ()
    low, high = 0.0, known[-1][1] - known[0][0]
    best = _columns(spans, cuttable, high)
    for _ in range(30):
        middle = (low + high) / 2
        cuts = _columns(spans, cuttable, middle)
        if len(cuts) + 1 <= count:
            best, high = cuts, middle
        else:
            low = middle
    return best


class _Fitter:
    def __init__(self, models: list, options: dot.DiagramOptions, paper: str):
        self.models = models
        self.options = options
        width, height = PAPER[paper]
        self.paper = paper
        self.room = (width - 2 * MARGIN, height - 2 * MARGIN)
        self.across = 0 if options.rankdir == "TB" else 1  # columns side by side go across the page (down with LR)
        self._spans: dict = {}
        self._pages: dict = {}
        self.plans: dict = {}  # see dot._build

    def depths(self, model) -> list:
        """The depths to try, the most detailed first: the one asked for, else none, then folding
        one more level each time."""
        if self.options.depth is not None:
            return [self.options.depth]
        if self.options.whole:
            return [None]
        deepest = max((group.depth for group in model.groups()), default=0)
        return [None] + list(range(deepest, 0, -1))

    def alone(self, number: int, depth, cuts: tuple = ()) -> _Measure:
        return _measure([self.models[number]], self.options, dot.Layout((depth,), (cuts,)), plans=self.plans)

    def statements(self, number: int, depth) -> tuple:
        """(the spans of the model's statements drawn whole at `depth`, where a column may start)."""
        spans = self.alone(number, depth).items[0]
        part = dot._ModelGraph(self.models[number], 0, self.options, depth, plans=self.plans)
        return spans, part.cuttable(part.statements())

    def page(self, number: int, depth, start: int, end: int, inner: tuple) -> _Measure:
        """Statements start..end of the model laid out on a page, in columns starting at `inner` (the
        other statements on pages before and after it)."""
        key = (number, depth, start, end, inner)
        if key not in self._pages:
            count = len(self.spans(number, depth)[0])
            cuts = tuple(sorted({start, end, *inner} - {0, count}))
            first = cuts.index(start) + 1 if start else 0
            last = first + len(inner) + 1
            sheets = []
            if first:
                sheets.append(((0, 0, first),))
            sheets.append(((0, first, last),))
            if last <= len(cuts):
                sheets.append(((0, last, len(cuts) + 1),))
            layout = dot.Layout((depth,), (cuts,), tuple(sheets))
            self._pages[key] = _measure([self.models[number]], self.options, layout, 1 if first else 0,
                                        self.plans)
        return self._pages[key]

    def spans(self, number: int, depth) -> tuple:
        key = (number, depth)
        if key not in self._spans:
            self._spans[key] = self.statements(number, depth)
        return self._spans[key]

    def arrange(self, number: int, depth, start: int, end: int, thorough: bool = False) -> Optional[tuple]:
        """The statements that start a column, when statements start..end of the model fit one page
        legibly in columns side by side; None when they do not. Cuts are moved to find a better fit
        for up to four columns, or for any number when `thorough` (a whole model on one page)."""
        spans, cuttable = self.spans(number, depth)
        tried: dict = {}

        def scale(inner: tuple) -> float:
            if inner not in tried:
                tried[inner] = _scale(self.page(number, depth, start, end, inner), self.room)
            return tried[inner]

        if scale(()) >= MIN_SCALE:
            return ()
        inside = [s if start <= i < end else None for i, s in enumerate(spans)]
        allowed = [c and start < i < end for i, c in enumerate(cuttable)]
        # a column is at least as long as its statements drawn in one column: fewer columns than that
        # estimate cannot fit
        longest = self.room[1 - self.across] / MIN_SCALE
        fewest = len(_columns(inside, allowed, longest)) + 1
        for count in range(max(2, fewest), MAX_COLUMNS + 1):
            inner = _balanced(inside, allowed, count)
            if not inner or inner in tried:
                continue
            if (count <= 4 or thorough) and MIN_SCALE > scale(inner) >= 0.85 * MIN_SCALE:
                inner = self.improve(inner, allowed, scale)
            if scale(inner) >= MIN_SCALE:
                if thorough:  # a column or two more may print larger
                    more = [_balanced(inside, allowed, more) for more in (count + 1, count + 2)]
                    inner = max([inner] + [cuts for cuts in more if cuts], key=scale)
                return inner
            if _size(self.page(number, depth, start, end, inner))[self.across] * MIN_SCALE > self.room[self.across]:
                break  # more columns would be wider still (taller with LR)
        return None

    @staticmethod
    def improve(cuts: tuple, cuttable: list, scale, rounds: int = 3) -> tuple:
        """Cuts moved one statement up or down, one at a time, while the page's scale grows: the
        columns share Graphviz's ranks, so a tall box in one column lengthens the others, and
        columns that start alike fit better than columns of equal length."""
        for _ in range(rounds):
            better = False
            for position in range(len(cuts)):
                for step in (-1, 1):
                    moved = list(cuts)
                    moved[position] += step
                    low = moved[position - 1] if position else 0
                    high = moved[position + 1] if position + 1 < len(moved) else len(cuttable)
                    if not (low < moved[position] < high and cuttable[moved[position]]):
                        continue
                    if scale(tuple(moved)) > scale(cuts):
                        cuts, better = tuple(moved), True
                        if scale(cuts) >= MIN_SCALE:
                            return cuts
            if not better:
                break
        return cuts

    def one_page(self, number: int) -> Optional[tuple]:
        """(depth, cuts) that fit the model on one page legibly, the most detailed first; None if none does."""
        for depth in self.depths(self.models[number]):
            spans, _ = self.spans(number, depth)
            cuts = self.arrange(number, depth, 0, len(spans), thorough=True)
            if cuts is not None:
                return depth, cuts
        return None

    def reach(self, spans: list, cuttable: list, start: int) -> int:
        """The furthest end of a page starting at statement `start`, if the statements on a page were
        as long and wide as they are drawn in one column."""
        longest = self.room[1 - self.across] / MIN_SCALE
        breadth = self.room[self.across] / MIN_SCALE
        used = 0.0  # across the page: the columns before the current one
        top, low, high = None, None, None
        for number in range(start, len(spans)):
            span = spans[number]
            if span is None:
                continue
            if top is not None and cuttable[number] and span[1] - top > longest:
                used += high - low
                top, low, high = None, None, None
            if top is None:
                top, low, high = span[0], span[2], span[3]
            low, high = min(low, span[2]), max(high, span[3])
            if used + (high - low) > breadth:
                return number
        return len(spans)

    def spread(self, number: int) -> tuple:
        """(depth, cuts, pages as (first column, end column)) for a model that needs several pages: page
        after page, as many statements as fit legibly (in columns), the depth the one asked for, else
        the model's own statements drawn as one box each."""
        depths = self.depths(self.models[number])
        depth = depths[0] if self.options.depth is not None or self.options.whole else depths[-1]
        spans, cuttable = self.spans(number, depth)
        count = len(spans)
        cuts: list = []
        pages = []
        start = held = 0  # held: how many statements the page before holds
        while start < count:
            ends = [end for end in range(start + 1, count + 1) if end == count or cuttable[end]]
            # the furthest end that could fit: the statements as long and wide as drawn in one column
            # (on a page they share ranks, which only makes them longer)
            reach = self.reach(spans, cuttable, start)
            ends = [end for end in ends if end <= reach] or ends[:1]
            best = (ends[0], ())  # one statement too big for a page goes alone, smaller than legible
            # first guess: as many statements as the page before held, else the estimate; then gallop
            # away from the guess until the answer changes, and halve the gap
            guess = len(ends) - 1
            if pages:
                guess = max((i for i, end in enumerate(ends) if end - start <= held), default=0)
            fits, fails = -1, len(ends)  # the furthest index known to fit, the nearest known not to
            index, step = guess, 1
            while fits < index < fails:
                inner = self.arrange(number, depth, start, ends[index])
                if inner is not None:
                    fits, best = index, (ends[index], inner)
                    index += step
                else:
                    fails = index
                    index -= step
                step *= 2
                index = min(max(index, fits + 1), fails - 1) if fits + 1 < fails else index
            low, high = fits + 1, fails - 1
            while low <= high:
                middle = (low + high) // 2
                inner = self.arrange(number, depth, start, ends[middle])
                if inner is None:
                    high = middle - 1
                else:
                    best, low = (ends[middle], inner), middle + 1
            end, inner = best
            held = end - start
            first = len(cuts) + (1 if start else 0)
            cuts += ([start] if start else []) + list(inner)
            pages.append((first, first + len(inner) + 1))
            start = end
        return depth, tuple(cuts), tuple(pages)

    def fit(self) -> Sheets:
        count = len(self.models)
        single = [self.one_page(number) for number in range(count)]
        spread = {number: self.spread(number) for number in range(count) if single[number] is None}
        depths, cuts = [], []
        for number in range(count):
            depth, columns = single[number] if single[number] is not None else spread[number][:2]
            depths.append(depth)
            cuts.append(columns)
        sheets: list = []
        current: list = []  # models that fit on one page together, waiting for company
        for number in range(count):
            if single[number] is None:
                if current:
                    sheets.append(tuple(current))
                    current = []
                sheets += [((number, first, end),) for first, end in spread[number][2]]
                continue
            whole = (number, 0, len(cuts[number]) + 1)
            if current:
                trial = dot.Layout(tuple(depths), tuple(cuts), (tuple(current + [whole]),))
                if _scale(_measure(self.models, self.options, trial, plans=self.plans), self.room) >= MIN_SCALE:
                    current.append(whole)
                    continue
                sheets.append(tuple(current))
            current = [whole]
        if current:
            sheets.append(tuple(current))
        layout = dot.Layout(tuple(depths), tuple(cuts), tuple(sheets))
        measures = [_measure(self.models, self.options, layout, page, self.plans) for page in range(len(sheets))]
        scale = min(_scale(measure, self.room) for measure in measures)
        width, height = PAPER[self.paper]
        viewports = []
        for measure in measures:
            x0, y0, x1, y1 = measure.bb
            middle = y1 - (height / 2 - MARGIN) / scale  # the drawing's top on the top margin
            viewports.append(f"{width:.2f},{height:.2f},{scale:.4f},{(x0 + x1) / 2:.2f},{middle:.2f}")
        return Sheets(layout, scale, tuple(viewports), self.paper, self.plans)


def fit(models, options: dot.DiagramOptions, paper: str) -> Sheets:
    """The pages of the drawing of `models` on `paper` (a key of PAPER)."""
    return _Fitter(list(models), options, paper).fit()


def source(models, options: dot.DiagramOptions, sheets: Sheets) -> str:
    """The DOT text of every page, one graph after the other."""
    models = list(models)
    return "".join(dot._build(models, options, sheets.layout, page, viewport, sheets.plans)[0].source
                   for page, viewport in enumerate(sheets.viewports))


def render(models, options: dot.DiagramOptions, sheets: Sheets, fmt: str) -> bytes:
    """The pages rendered by Graphviz's dot: one PDF of every page; SVG and PNG hold one page
    (TooManyPages otherwise)."""
    models = list(models)
    if fmt != "pdf" and sheets.pages > 1:
        raise TooManyPages(sheets.pages)
    if fmt == "png" and options.dpi is None:
        options = attrs.evolve(options, dpi=dot.PNG_DPI)
    documents = [dot.fixed(dot._build(models, options, sheets.layout, page, viewport, sheets.plans)[0].pipe(format=fmt),
                           fmt) for page, viewport in enumerate(sheets.viewports)]
    return join(documents) if fmt == "pdf" else documents[0]
