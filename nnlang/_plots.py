"""Plots of a model's cost (matplotlib, an optional dependency: `pip install 'nnlang[notebook]'`)."""

from __future__ import annotations


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("nnlang's plots need matplotlib: pip install matplotlib "
                          "(or pip install 'nnlang[notebook]')") from None
    _show_in_ipython(Figure)
    return Figure


def _show_in_ipython(figure_class) -> None:
    """In IPython, a figure that is a cell's value shows as a picture: the PNG formatter is
    registered for it unless matplotlib's inline backend has done so (nnlang draws without pyplot,
    so that a figure is shown once, as the cell's value)."""
    import sys

    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(figure_class)
    except KeyError:
        formatter.for_type(figure_class, _png)


def _png(figure) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _figure(ax, panels: int):
    """A new figure with `panels` axes side by side, or the figure of the axes given."""
    Figure = _figure_class()
    if ax is not None:
        axes = list(ax) if isinstance(ax, (list, tuple)) else [ax]
        if len(axes) != panels:
            raise ValueError(f"give {panels} axes")
        return axes[0].figure, axes
    figure = Figure(figsize=(5 * panels, 3.6), layout="constrained")
    return figure, list(figure.subplots(1, panels)) if panels > 1 else [figure.subplots()]


def sweep(model, size: str, values: list, fixed: dict, ax=None):
    rows = model.sweep(size, values, **fixed)
    figure, (left, right) = _figure(ax, 2)
    xs = [row[size] for row in rows]
    left.plot(xs, [row["macs"] for row in rows], marker="o")
    left.set_xlabel(size)
    left.set_ylabel("MACs")
    left.set_title(f"{model.name}: MACs against {size}")
    right.plot(xs, [row["inference_peak_bytes"] for row in rows], marker="o", label="inference peak")
    right.plot(xs, [row["training_bytes"] for row in rows], marker="s", label="training")
    right.set_xlabel(size)
    right.set_ylabel("bytes")
    right.set_title(f"{model.name}: memory against {size}")
    right.legend()
    for axes in (left, right):
        axes.grid(True, alpha=0.3)
    return figure


def share(model, ax=None, top: int = 12):
    figure, (params_axes, macs_axes) = _figure(ax, 2)
    layers = model.layers
    for axes, key, what in ((params_axes, "params", "parameters"), (macs_axes, "macs", "MACs")):
        values = [(layer.name, getattr(layer, key)) for layer in layers]
        if any(value is not None and type(value) is not int for _, value in values):
            raise ValueError(f"the {what} depend on named sizes ({', '.join(model.sizes)}): load with sizes={{...}}")
        total = sum(value or 0 for _, value in values)
        ranked = sorted((v for v in values if v[1]), key=lambda item: -item[1])
        shown = ranked[:top]
        rest = sum(value for _, value in ranked[top:])
        if rest:
            shown.append((f"{len(ranked) - top} others", rest))
        names = [name for name, _ in shown][::-1]
        shares = [100 * value / total if total else 0 for _, value in shown][::-1]
        axes.barh(names, shares)
        axes.set_xlabel(f"share of {what} (%)")
        axes.set_title(f"{model.name}: {what}, total {total:,}")
    return figure
