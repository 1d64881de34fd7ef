"""A worked forward and backward pass (nnlang/trace.py) as text, Markdown or LaTeX.

One document is built once (`document`): titles, sentences and equations, each equation in
two notations at once (plain text and LaTeX, `Math`); `text`, `markdown` and `latex` write it.
Names that come from the file (models, layers) are escaped for Markdown and LaTeX.
"""

from __future__ import annotations

from typing import Optional

from ..trace import SLOPE_RULE, Num, Trace, approx, show
from .tables import latex_escape, markdown_escape


class Math:
    """A formula written twice: `plain` (text and Markdown) and `tex` (LaTeX math mode)."""

    __slots__ = ("plain", "tex")

    def __init__(self, plain: str = "", tex: Optional[str] = None):
        self.plain = plain
        self.tex = plain if tex is None else tex

    def __add__(self, other):
        other = other if isinstance(other, Math) else Math(other)
        return Math(self.plain + other.plain, self.tex + other.tex)

    def __radd__(self, other):
        return Math(other) + self


TIMES = Math(" * ", r" \cdot ")
EQ = Math(" = ", " = ")


def sym(name: str, *index) -> Math:
    """z1, w1_2, delta1 (plain); z_{1}, w_{1,2}, \\delta_{1} (LaTeX)."""
    tex_name = {"delta": r"\delta", "sigma": r"\sigma"}.get(name, name)
    plain = name + "_".join(str(i) for i in index)
    return Math(plain, f"{tex_name}_{{{','.join(str(i) for i in index)}}}" if index else tex_name)


def num(value: Num, digits: int, paren: bool = True) -> Math:
    text = show(value, digits)
    tex = text
    if "/" in text:
        top, bottom = text.lstrip("-").split("/")
        tex = ("-" if text.startswith("-") else "") + rf"\frac{{{top}}}{{{bottom}}}"
    if paren and text.startswith("-"):
        return Math(f"({text})", f"({tex})")
    return Math(text, tex)


def value(v: Num, digits: int) -> Math:
    """A result: `approx` (1/3 (~0.3333)) in plain text, \\frac{1}{3} \\approx 0.3333 in LaTeX."""
    plain = approx(v, digits)
    tex = num(v, digits, paren=False).tex
    if "(~" in plain:
        tex += r" \approx " + plain.split("(~")[1].rstrip(")")
    return Math(plain, tex)


def slope_written(function: str, z: Num, a: Num, digits: int) -> Math:
    """f'(z) with the numbers: 0.6225 * (1 - 0.6225) for a sigmoid."""
    if function == "sigmoid":
        return num(a, digits) + TIMES + Math("(1 - ", r"\left(1 - ") + num(a, digits) + Math(")", r"\right)")
    if function == "tanh":
        return Math("(1 - ", r"\left(1 - ") + num(a, digits) + Math("^2)", r"^2\right)")
    if function == "relu":
        return Math("1" if z.value > 0 else "0")
    return Math("1")


def joined(items: list, separator: Math) -> Math:
    out = Math("")
    for i, item in enumerate(items):
        out = out + (separator if i else Math("")) + item
    return out


FUNCTION_TEX = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\mathrm{ReLU}", "softmax": r"\mathrm{softmax}",
                "linear": ""}


def apply(function: str, argument: Math) -> Math:
    if function == "linear":
        return argument
    return Math(f"{function}(", FUNCTION_TEX[function] + r"\left(") + argument + Math(")", r"\right)")


def document(traces: list, digits: int) -> list:
    """The blocks of the worked solution: ("title"|"section"|"subsection"|"text", str) and
    ("eq", Math)."""
    blocks = []
    for trace in traces:
        blocks.extend(_one(trace, digits))
    if len(traces) > 1:
        blocks.append(("section", "Comparison"))
        for trace in traces:
            blocks.append(("eq", Math(f"L({trace.model}) = ", rf"L(\text{{{latex_escape(trace.model)}}}) = ")
                           + value(trace.loss, digits)))
        best = min(traces, key=lambda t: t.loss.value)
        blocks.append(("text", f"The smallest error is {best.model}'s."))
    return blocks


def _vector(values: list, digits: int) -> Math:
    return Math("[", r"\left[") + joined([num(v, digits, paren=False) for v in values], Math(", ")) \
        + Math("]", r"\right]")


def _one(trace: Trace, digits: int) -> list:
    d = digits
    blocks: list = [("title", f"Model {trace.model}: forward and backward pass")]
    loss_text = {"mse": "mse, L = 1/2 * sum((a - y)^2)", "bce": "bce, L = -sum(y log a + (1 - y) log(1 - a))",
                 "ce": "ce, L = -sum(y log a)"}[trace.loss_name]
    blocks.append(("eq", Math("x = ", "x = ") + _vector(trace.x, d) + Math(", y = ", r",\quad y = ")
                   + _vector(trace.target, d)))
    blocks.append(("text", f"Loss: {loss_text}."
                   + (f" The last layer is linear: its outputs are logits, the loss applies a {trace.logits} "
                      "(p below)." if trace.logits else "")
                   + (f" Every layer uses {trace.activation_override} (--activation)."
                      if trace.activation_override else "")))
    blocks.append(("section", "Forward pass"))
    for number, layer in enumerate(trace.layers, 1):
        blocks.append(("subsection", f"{layer.name} ({layer.activation})"))
        inputs = [sym("x", j + 1) if number == 1 else sym("a", j + 1) for j in range(len(layer.x))]
        for i, row in enumerate(layer.weights):
            terms = [num(w, d) + TIMES + num(v, d) for w, v in zip(row, layer.x)]
            general = [sym("w", i + 1, j + 1) + TIMES + inputs[j] for j in range(len(row))]
            if layer.bias is not None:
                terms.append(num(layer.bias[i], d))
                general.append(sym("b", i + 1))
            blocks.append(("eq", sym("z", i + 1) + EQ + joined(general, Math(" + ")) + EQ
                           + joined(terms, Math(" + ")) + EQ + value(layer.z[i], d)))
        for i, (z, a) in enumerate(zip(layer.z, layer.a)):
            if layer.activation == "softmax":
                blocks.append(("eq", sym("a", i + 1) + Math(" = exp(z" + str(i + 1) + ") / sum_k exp(zk)",
                                                           rf" = \frac{{e^{{z_{{{i + 1}}}}}}}{{\sum_k e^{{z_k}}}}")
                               + EQ + value(a, d)))
            else:
                blocks.append(("eq", sym("a", i + 1) + EQ + apply(layer.activation, sym("z", i + 1)) + EQ
                               + apply(layer.activation, num(z, d, paren=False)) + EQ + value(a, d)))
    if trace.logits:
        for i, p in enumerate(trace.outputs):
            blocks.append(("eq", sym("p", i + 1) + EQ + apply(trace.logits, sym("z", i + 1)) + EQ + value(p, d)))
    blocks.append(("section", "Loss"))
    out = "p" if trace.logits else "a"
    if trace.loss_name == "mse":
        terms = [Math("(") + num(p, d) + Math(" - ") + num(t, d) + Math(")^2") for p, t in
                 zip(trace.outputs, trace.target)]
        blocks.append(("eq", Math("L = 1/2 * (", r"L = \frac{1}{2} \left(") + joined(terms, Math(" + "))
                       + Math(")", r"\right)") + EQ + value(trace.loss, d)))
    else:
        blocks.append(("eq", Math("L = ") + Math({"bce": f"-sum(y log {out} + (1 - y) log(1 - {out}))",
                                                   "ce": f"-sum(y log {out})"}[trace.loss_name],
                                                  {"bce": rf"-\sum_i y_i \log {out}_i + (1 - y_i) \log(1 - {out}_i)",
                                                   "ce": rf"-\sum_i y_i \log {out}_i"}[trace.loss_name])
                       + EQ + value(trace.loss, d)))
    blocks.append(("section", "Backward pass"))
    for number in range(len(trace.layers), 0, -1):
        layer = trace.layers[number - 1]
        blocks.append(("subsection", f"{layer.name}: delta = dL/dz"))
        last = number == len(trace.layers)
        for i, delta in enumerate(layer.delta):
            if last:
                rule = trace.output_delta_rule
                rule_tex = rule.replace("*", r"\cdot")
                output, target = trace.outputs[i], trace.target[i]
                if rule in ("a - y", "p - y"):
                    written = num(output, d) + Math(" - ") + num(target, d)
                elif trace.loss_name == "mse" and layer.slope is not None:
                    written = Math("(") + num(output, d) + Math(" - ") + num(target, d) + Math(")") + TIMES \
                        + slope_written(layer.activation, layer.z[i], layer.a[i], d)
                elif layer.slope is not None:
                    written = num(layer.grad_a[i], d) + TIMES + num(layer.slope[i], d)
                else:
                    written = None
                eq = sym("delta", i + 1) + Math(f" = {rule}", f" = {rule_tex}") + EQ
                blocks.append(("eq", (eq + written + EQ if written is not None else eq) + value(delta, d)))
            else:
                after = trace.layers[number]
                terms = [num(row[i], d) + TIMES + num(dn, d) for row, dn in zip(after.weights, after.delta)]
                slope = SLOPE_RULE.get(layer.activation, "")
                if layer.slope is None:
                    blocks.append(("eq", sym("delta", i + 1) + EQ + value(delta, d)))
                    continue
                blocks.append(("eq", sym("delta", i + 1) + Math(" = (sum_k wk" + str(i + 1) + " * delta'k) * " + slope,
                                                                rf" = \left(\sum_k w_{{k,{i + 1}}} \delta'_k\right) \cdot "
                                                                + slope.replace("*", r"\cdot"))
                               + EQ + Math("(") + joined(terms, Math(" + ")) + Math(")") + TIMES
                               + slope_written(layer.activation, layer.z[i], layer.a[i], d) + EQ + value(delta, d)))
        if not last:
            blocks.append(("text", "delta' are the deltas of the layer after, w' its weights."))
    blocks.append(("section", "Gradients"))
    for number, layer in enumerate(trace.layers, 1):
        blocks.append(("subsection", f"{layer.name}: dL/dW = delta x^T" + (", dL/db = delta" if layer.bias else "")))
        inputs = "x" if number == 1 else "a"
        for i, row in enumerate(layer.grad_weights):
            for j, g in enumerate(row):
                blocks.append(("eq", Math(f"dL/dw{i + 1}_{j + 1}", rf"\frac{{\partial L}}{{\partial w_{{{i + 1},{j + 1}}}}}")
                               + EQ + sym("delta", i + 1) + TIMES + sym(inputs, j + 1) + EQ
                               + num(layer.delta[i], d) + TIMES + num(layer.x[j], d) + EQ + value(g, d)))
            if layer.grad_bias is not None:
                blocks.append(("eq", Math(f"dL/db{i + 1}", rf"\frac{{\partial L}}{{\partial b_{{{i + 1}}}}}") + EQ
                               + sym("delta", i + 1) + EQ + value(layer.grad_bias[i], d)))
    blocks.append(("subsection", "input: dL/dx = W^T delta (first layer)"))
    for j, g in enumerate(trace.grad_input):
        blocks.append(("eq", Math(f"dL/dx{j + 1}", rf"\frac{{\partial L}}{{\partial x_{{{j + 1}}}}}") + EQ
                       + value(g, d)))
    if trace.lr is not None:
        blocks.append(("section", f"One step of gradient descent (lr = {show(trace.lr, d)})"))
        for layer in trace.layers:
            blocks.append(("subsection", layer.name))
            for i, row in enumerate(layer.weights_after):
                for j, w in enumerate(row):
                    blocks.append(("eq", sym("w", i + 1, j + 1) + Math(" <- ", r" \leftarrow ")
                                   + num(layer.weights[i][j], d, paren=False) + Math(" - ") + num(trace.lr, d)
                                   + TIMES + num(layer.grad_weights[i][j], d) + EQ + value(w, d)))
                if layer.bias_after is not None:
                    blocks.append(("eq", sym("b", i + 1) + Math(" <- ", r" \leftarrow ")
                                   + num(layer.bias[i], d, paren=False) + Math(" - ") + num(trace.lr, d)
                                   + TIMES + num(layer.grad_bias[i], d) + EQ + value(layer.bias_after[i], d)))
    return blocks


def text(blocks: list) -> str:
    from ..diagnostics import printable

    lines = []
    for kind, content in blocks:
        if kind == "title":
            if lines:
                lines.append("")
            lines.append(printable(content))
            lines.append("=" * len(printable(content)))
        elif kind == "section":
            lines.extend(["", printable(content), "-" * len(printable(content))])
        elif kind == "subsection":
            lines.append(f"  {printable(content)}")
        elif kind == "text":
            lines.append(printable(content))
        else:
            lines.append(f"    {content.plain}")
    return "\n".join(lines) + "\n"


def markdown(blocks: list) -> str:
    lines = []
    for kind, content in blocks:
        if kind == "title":
            lines.extend([f"# {markdown_escape(content)}", ""])
        elif kind == "section":
            lines.extend([f"## {markdown_escape(content)}", ""])
        elif kind == "subsection":
            lines.extend([f"### {markdown_escape(content)}", ""])
        elif kind == "text":
            lines.extend([markdown_escape(content), ""])
        else:
            lines.extend([f"    {content.plain}", ""])
    return "\n".join(_squeeze(lines)).rstrip("\n") + "\n"


def _squeeze(lines: list) -> list:
    """Consecutive equations as one indented block (no blank line between them)."""
    out = []
    for i, line in enumerate(lines):
        if line == "" and out and out[-1].startswith("    ") and i + 1 < len(lines) \
                and lines[i + 1].startswith("    "):
            continue
        out.append(line)
    return out


def latex(blocks: list) -> str:
    lines = [r"\documentclass[a4paper]{article}", r"\usepackage{amsmath}", r"\usepackage[margin=2cm]{geometry}",
             r"\begin{document}"]
    in_eqs = False
    for kind, content in blocks:
        if kind == "eq":
            if not in_eqs:
                lines.append(r"\begin{align*}")
                in_eqs = True
            else:
                lines[-1] += r" \\"
            lines.append("  & " + content.tex)
            continue
        if in_eqs:
            lines.append(r"\end{align*}")
            in_eqs = False
        if kind == "title":
            lines.append(rf"\section*{{{latex_escape(content)}}}")
        elif kind == "section":
            lines.append(rf"\subsection*{{{latex_escape(content)}}}")
        elif kind == "subsection":
            lines.append(rf"\paragraph{{{latex_escape(content)}}}")
        else:
            lines.append(latex_escape(content))
            lines.append("")
    if in_eqs:
        lines.append(r"\end{align*}")
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


# --- the equations without numbers: `nnc trace FILE --symbolic` -----------------------------


class Equation:
    """One equation of the chain rule: what it gives (`quantity`, e.g. "delta_2"), the formula
    (`Math`) and the size of the result with, for a product, the sizes of its factors."""

    __slots__ = ("quantity", "math", "size", "factors")

    def __init__(self, quantity: str, math: Math, size: tuple, factors: tuple = ()):
        self.quantity = quantity
        self.math = math
        self.size = size
        self.factors = factors

    def sized(self) -> Math:
        """The formula followed by its size: `[2x3 = (2x1)(1x3)]`."""
        plain = _size_plain(self.size)
        tex = _size_tex(self.size)
        if self.factors:
            plain += " = " + "".join(f"({_size_plain(f)})" for f in self.factors)
            tex += " = " + "".join(rf"({_size_tex(f)})" for f in self.factors)
        return self.math + Math(f"    [{plain}]", rf" \qquad [{tex}]")


def _size_plain(size: tuple) -> str:
    return "x".join(str(d) for d in size)


def _size_tex(size: tuple) -> str:
    return r" \times ".join(str(d) for d in size)


def msym(name: str, index=None, transpose: bool = False) -> Math:
    """W_2, delta_2, x^T (plain); W_{2}, \\delta_{2}, x^{\\mathsf{T}} (LaTeX)."""
    tex_name = {"delta": r"\delta"}.get(name, name)
    plain, tex = name, tex_name
    if index is not None:
        plain += f"_{index}"
        tex += f"_{{{index}}}"
    if transpose:
        plain += "^T"
        tex += r"^{\mathsf{T}}"
    return Math(plain, tex)


HADAMARD = Math(" * ", r" \odot ")


def _partial(of: Math) -> Math:
    return Math(f"dL/d{of.plain}", rf"\frac{{\partial L}}{{\partial {of.tex}}}")


def _slope(function: str, z: Math, a: Math) -> Optional[tuple]:
    """f'(z) of an elementwise activation: (the derivative written out, its short form in a
    product); None for softmax."""
    if function == "sigmoid":
        short = a + HADAMARD + Math("(1 - ", r"(1 - ") + a + Math(")")
        return Math("sigmoid(", r"\sigma(") + z + Math(") * (1 - sigmoid(", r") \odot (1 - \sigma(") + z \
            + Math(")) = ", r")) = ") + short, short
    if function == "tanh":
        short = Math("(1 - ") + a + Math("^2)")
        return Math("1 - tanh^2(", r"1 - \tanh^2(") + z + Math(") = 1 - ") + a + Math("^2"), short
    if function == "relu":
        short = Math("1[", r"\mathbf{1}[") + z + Math(" > 0]")
        return short + Math(" (1 where z > 0, else 0)", r" \quad (1 \text{ where } z > 0 \text{, else } 0)"), short
    if function == "linear":
        return Math("1"), Math("1")
    return None


def _derivative(function: str, k: int) -> Math:
    return Math(f"{function}'(z_{k})", rf"{FUNCTION_TEX[function]}'(z_{{{k}}})")


def symbolic(model: str, layers: list, loss: str) -> list:
    """The chain rule of a dense network, layer by layer: [(heading, [Equation])] for the forward
    pass, the loss, every layer's delta and gradients (last layer first) and the input's gradient."""
    count = len(layers)
    sizes = [len(layers[0].weights[0])] + [len(layer.weights) for layer in layers]
    inputs = [msym("x")] + [msym("a", k) for k in range(1, count)]
    inputs_t = [msym("x", transpose=True)] + [msym("a", k, transpose=True) for k in range(1, count)]
    sections = []
    forward = []
    for k, layer in enumerate(layers, 1):
        m, n = sizes[k], sizes[k - 1]
        z, a = msym("z", k), msym("a", k)
        product = msym("W", k) + Math(" ", " ") + inputs[k - 1]
        if layer.bias is not None:
            product = product + Math(" + ") + msym("b", k)
        forward.append(Equation(f"z_{k}", z + EQ + product, (m, 1), ((m, n), (n, 1))))
        if layer.activation == "softmax":
            formula = Math(f"softmax(z_{k}) = exp(z_{k}) / sum(exp(z_{k}))",
                           rf"\mathrm{{softmax}}(z_{{{k}}}) = \frac{{e^{{z_{{{k}}}}}}}{{\sum_i e^{{z_{{{k},i}}}}}}")
            forward.append(Equation(f"a_{k}", a + EQ + formula, (m, 1)))
        else:
            forward.append(Equation(f"a_{k}", a + EQ + apply(layer.activation, z), (m, 1)))
    sections.append(("Forward pass", forward))
    last = layers[-1]
    a_out = msym("a", count)
    logits = {"bce": "sigmoid", "ce": "softmax"}.get(loss) if last.activation == "linear" else None
    out = msym("p") if logits else a_out
    o = f"[{out.tex}]_i" if "_" in out.tex else f"{out.tex}_i"
    loss_eq = {
        "mse": Math(f"L = 1/2 * sum(({out.plain} - y)^2)", rf"L = \frac{{1}}{{2}} \sum_i ({o} - y_i)^2"),
        "bce": Math(f"L = -sum(y log {out.plain} + (1 - y) log(1 - {out.plain}))",
                    rf"L = -\sum_i \left(y_i \log {o} + (1 - y_i) \log(1 - {o})\right)"),
        "ce": Math(f"L = -sum(y log {out.plain})", rf"L = -\sum_i y_i \log {o}"),
    }[loss]
    loss_section = []
    if logits:
        loss_section.append(Equation("p", msym("p") + EQ + apply(logits, msym("z", count)), (sizes[-1], 1)))
    loss_section.append(Equation("L", loss_eq, (1, 1)))
    sections.append(("Loss (y the target)", loss_section))
    for k in range(count, 0, -1):
        layer = layers[k - 1]
        m, n = sizes[k], sizes[k - 1]
        z, a, delta = msym("z", k), msym("a", k), msym("delta", k)
        eqs = []
        slope = _slope(layer.activation, z, a)
        if slope is not None and layer.activation != "linear":
            eqs.append(Equation(f"f'(z_{k})", _derivative(layer.activation, k) + EQ + slope[0], (m, 1)))
        slope = slope[1] if slope is not None else None
        if k == count:
            grad = {"mse": Math("(") + a + Math(" - y)"),
                    "bce": Math("(") + a + Math(" - y) / (", r" - y) \oslash (") + a + HADAMARD + Math("(1 - ")
                    + a + Math("))"),
                    "ce": Math("-y / ", r"-y \oslash ") + a}[loss]
            if logits or (loss == "ce" and layer.activation == "softmax") or (
                    loss == "bce" and layer.activation == "sigmoid"):
                eqs.append(Equation(f"delta_{k}", delta + EQ + _partial(z) + EQ + out + Math(" - y"), (m, 1)))
            else:
                eqs.append(Equation(f"dL/da_{k}", _partial(a) + EQ + grad, (m, 1)))
                if slope is None:
                    eqs.append(Equation(f"delta_{k}", delta + EQ + _partial(z) + EQ + a + HADAMARD
                                        + Math("(g - sum(g * ", r"(g - \textstyle\sum_i g_i [") + a
                                        + Math("))", r"]_i)") + Math(", g = ", r",\quad g = ") + _partial(a),
                                        (m, 1)))
                elif layer.activation == "linear":
                    eqs.append(Equation(f"delta_{k}", delta + EQ + _partial(a) + EQ + grad, (m, 1)))
                else:
                    eqs.append(Equation(f"delta_{k}", delta + EQ + _partial(a) + HADAMARD
                                        + _derivative(layer.activation, k) + EQ + grad + HADAMARD + slope, (m, 1)))
        else:
            back = msym("W", k + 1, transpose=True) + Math(" ", " ") + msym("delta", k + 1)
            eqs.append(Equation(f"dL/da_{k}", _partial(a) + EQ + back, (m, 1), ((m, sizes[k + 1]), (sizes[k + 1], 1))))
            if slope is None:
                eqs.append(Equation(f"delta_{k}", delta + EQ + a + HADAMARD
                                    + Math("(g - sum(g * ", r"(g - \textstyle\sum_i g_i [") + a
                                    + Math("))", r"]_i)") + Math(", g = ", r",\quad g = ") + back, (m, 1)))
            elif layer.activation == "linear":
                eqs.append(Equation(f"delta_{k}", delta + EQ + back, (m, 1), ((m, sizes[k + 1]), (sizes[k + 1], 1))))
            else:
                eqs.append(Equation(f"delta_{k}", delta + EQ + slope + HADAMARD + Math("(") + back + Math(")"),
                                    (m, 1)))
        eqs.append(Equation(f"dL/dW_{k}", _partial(msym("W", k)) + EQ + delta + Math(" ", " ") + inputs_t[k - 1],
                            (m, n), ((m, 1), (1, n))))
        if layer.bias is not None:
            eqs.append(Equation(f"dL/db_{k}", _partial(msym("b", k)) + EQ + delta, (m, 1)))
        sections.append((f"Layer {k}: {layer.name} ({layer.activation}), W_{k} is {m}x{n}", eqs))
    first = sizes[1]
    sections.append(("Input", [Equation("dL/dx", _partial(msym("x")) + EQ + msym("W", 1, transpose=True)
                                        + Math(" ", " ") + msym("delta", 1), (sizes[0], 1),
                                        ((sizes[0], first), (first, 1)))]))
    return sections


def symbolic_document(models: list) -> list:
    """Blocks (as `document`) of the equations of [(model name, layers, loss)]."""
    blocks = []
    for name, layers, loss in models:
        blocks.append(("title", f"Model {name}: backpropagation equations"))
        blocks.append(("text", "* is the elementwise product, juxtaposition the matrix product, ^T the "
                               "transpose; delta_k = dL/dz_k; a_0 = x; sizes are rows x columns."))
        for heading, equations in symbolic(name, layers, loss):
            blocks.append(("section", heading))
            for equation in equations:
                blocks.append(("eq", equation.sized()))
    return blocks
