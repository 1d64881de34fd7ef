"""Slicing and selection along an axis: `slice` keeps a range of positions (a channel split, a
strided spatial slice), `select` takes one position and removes the axis (the first token).

The axis counts the input's axes as nnc writes the shape (batch left out) from 0, or from the end
when negative (the default, -1, is the last axis: the channels); positions count from 0."""

from __future__ import annotations

from typing import Optional

from .base import Arg, Args, Context, LayerKind, Layout, Result, Shown, fmt_shape

_AXIS_DOC = "the axis, counted from 0 over the shape without the batch (default: the last, the channels)"


def _axis(shape, a: Args, ctx: Context, what: str) -> Optional[int]:
    """The axis `a.axis` names in `shape`, counted from 0; None (after an error) when it has none."""
    axis = a.axis
    rank = len(shape)
    index = axis + rank if axis < 0 else axis
    if not 0 <= index < rank:
        ctx.error("E104", f"{what}: axis={axis} does not exist in a {rank}-D input {fmt_shape(shape)} "
                          f"(axes 0 to {rank - 1}, batch left out)", "axis")
        return None
    return index


def _decided(x) -> Optional[bool]:
    """Whether x > 0, for every value of the named sizes (None: it depends on them)."""
    if type(x) is int:
        return x > 0
    from .. import symbolic

    return symbolic.is_positive(x)


def _text(x) -> str:
    """A size as a message writes it: 12, T - 1."""
    return str(x)


class Slice(LayerKind):
    name = "slice"
    aliases = ("narrow",)
    family = "reshape"
    summary = "keeps the positions start, start + step, ... before stop along one axis (x[start:stop:step])"
    options = (
        Arg("axis", "int", -1, _AXIS_DOC, aliases=("dim",)),
        Arg("start", "int", 0, "the first position kept, from 0"),
        Arg("stop", "int", None, "the position the slice stops before (default: the end of the axis)",
            aliases=("end",)),
        Arg("step", "count", 1, "keep every step-th position"),
    )
    torch_class = "Slice"  # a module of the exported file: indexing along one axis
    word = "slice"

    def describe(self, a: dict, shown: Shown) -> list:
        stop = a.get("stop")
        step = a.get("step", 1)
        text = f"{a.get('start', 0)}:{'' if stop is None else stop}" + (f":{step}" if step != 1 else "")
        return [f"slice {text}", f"axis {a.get('axis', -1)}"]

    def infer(self, shape, a: Args, ctx: Context):
        axis = _axis(shape, a, ctx, "slice")
        if axis is None:
            return None
        size = shape[axis]
        start, stop, step = a.start, a.stop, a.step
        if start < 0 or (stop is not None and stop < 0):
            ctx.error("E104", f"slice: positions count from 0, got start={start}"
                      + ("" if stop is None else f" stop={stop}"), "start" if start < 0 else "stop")
            return None
        if stop is not None and stop <= start:
            ctx.error("E104", f"slice: stop={stop} must be after start={start}: the slice would be empty", "stop")
            return None
        if size is None:
            if stop is None:
                out = None
            else:
                out = (stop - start + step - 1) // step
        else:
            end = size if stop is None else stop
            # a named size is taken to be large enough, as a convolution takes it to be at least its kernel:
            # only a slice that is beyond the end or empty for every value of the sizes is an error
            if _decided(size - end + 1) is False:  # end <= size
                ctx.error("E104", f"slice: stop={stop} is beyond the end of axis {axis}, of size "
                                  f"{_text(size)} (input {fmt_shape(shape)})", "stop")
                return None
            if _decided(end - start) is False:  # start < end
                ctx.error("E104", f"slice: start={start} is not before the end of axis {axis} (size "
                                  f"{_text(size)}): the slice would be empty", "start")
                return None
            out = (end - start + step - 1) // step
        return Result(shape[:axis] + (out,) + shape[axis + 1:])


class Select(LayerKind):
    name = "select"
    aliases = ()
    family = "reshape"
    summary = "takes the position `index` along one axis and removes the axis (x[index])"
    options = (
        Arg("axis", "int", -1, _AXIS_DOC, aliases=("dim",)),
        Arg("index", "int", 0, "the position taken, from 0"),
    )
    # the exporters keep the remaining axes in nnc's (channels-last) order
    layout = Layout.LAST_AXIS
    torch_class = "Select"  # a module of the exported file: x.select(dim, index)
    word = "select"

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"select {a.get('index', 0)}", f"axis {a.get('axis', -1)}"]

    def infer(self, shape, a: Args, ctx: Context):
        if len(shape) < 2:
            ctx.error("E201", f"select removes an axis: it needs a 2-D input or more, got {fmt_shape(shape)}")
            return None
        axis = _axis(shape, a, ctx, "select")
        if axis is None:
            return None
        size, index = shape[axis], a.index
        if index < 0:
            ctx.error("E104", f"select: index counts from 0, got {index}", "index")
            return None
        if size is not None and _decided(size - index) is False:  # index < size
            ctx.error("E104", f"select: index={index} is not within axis {axis}, of size {_text(size)} "
                              f"(positions 0 to {_text(size - 1)})", "index")
            return None
        return Result(shape[:axis] + shape[axis + 1:])


KINDS = (Slice(), Select())
