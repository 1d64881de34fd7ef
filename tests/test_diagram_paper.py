"""`nnc diagram` on paper: a PDF (SVG, PNG) is one page the size of the drawing, and `--page a4`
(or letter) fits big networks to pages of that size with text never smaller than 8 pt in print.

Sizes are read back the way a reader's tools see them: Graphviz's own layout (`dot -Tjson`) for
the drawing's bounding box, poppler's `pdfinfo` for pages and their sizes, `pdftotext -bbox` for
the height of every word as printed (a word's height is proportional to its font size, so the
print size of the smallest text is its height over the height of a word of known size at scale 1).
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, run_nnc

A4 = (595.28, 841.89)  # ISO 216: 210 x 297 mm in points
LETTER = (612.0, 792.0)  # 8.5 x 11 in
SMALLEST_TEXT = 9  # points: the edge labels (docs/diagrams.md, Type)

# A chain of 120 different layers: no folding can shorten it, so A4 needs columns and pages.
CHAIN = "model chain {\n    input 4096\n" + "".join(f"    dense {4096 - 8 * i} relu\n" for i in range(1, 121)) + "}\n"


def draw(source, out: Path, *options) -> subprocess.CompletedProcess:
    proc = run_nnc("diagram", source, "-o", out, *options, timeout=600)
    assert_no_traceback(proc)
    return proc


def pdfinfo(path: Path) -> tuple:
    """(number of pages, [(width, height) of every page]) as poppler reads them."""
    proc = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # a well-formed file
    pages = int(re.search(r"^Pages:\s+(\d+)", proc.stdout, re.M).group(1))
    sizes = [(float(w), float(h)) for w, h in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", proc.stdout, re.M)]
    return pages, sizes


def words(path: Path) -> list:
    """[(page number from 1, text, height in points)] of every word of a PDF."""
    proc = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = []
    for number, page in enumerate(re.findall(r"<page .*?</page>", proc.stdout, re.S), 1):
        for y0, y1, text in re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>', page):
            out.append((number, text, float(y1) - float(y0)))
    return out


def layout_bb(dot_text: str) -> tuple:
    """Width and height of the drawing as Graphviz lays it out."""
    proc = subprocess.run(["dot", "-Tjson"], input=dot_text.encode("utf-8"), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    x0, y0, x1, y1 = (float(v) for v in json.loads(proc.stdout)["bb"].split(","))
    return x1 - x0, y1 - y0


def point_height(tmp_path: Path) -> float:
    """The height pdftotext gives a word per point of font size: an edge label of `lenet5` drawn at
    scale 1 is SMALLEST_TEXT points."""
    pdf = tmp_path / "natural.pdf"
    assert draw(EXAMPLES / "lenet5.nn", pdf).returncode == 0
    heights = [h for _, text, h in words(pdf) if text == "32x32x1"]
    return min(heights) / SMALLEST_TEXT


# --- one page the size of the drawing -----------------------------------------------------


@pytest.mark.parametrize("name", ["lenet5", "inception_naive_vs_bottleneck", "resnet18"])
def test_pdf_svg_png_are_one_page_the_size_of_the_drawing(name, tmp_path):
    source = EXAMPLES / f"{name}.nn"
    proc = run_nnc("diagram", source)
    assert proc.returncode == 0, proc.stderr
    width, height = layout_bb(proc.stdout)

    pdf, svg, png = tmp_path / "d.pdf", tmp_path / "d.svg", tmp_path / "d.png"
    for out in (pdf, svg, png):
        assert draw(source, out).returncode == 0
    pages, sizes = pdfinfo(pdf)
    assert pages == 1
    assert abs(sizes[0][0] - width) <= 1 and abs(sizes[0][1] - height) <= 1, (sizes, width, height)

    root = svg.read_text(encoding="utf-8")
    svg_width, svg_height = (float(v) for v in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', root).groups())
    assert abs(svg_width - width) <= 1 and abs(svg_height - height) <= 1

    png_width, png_height = struct.unpack(">II", png.read_bytes()[16:24])  # IHDR: 150 dots per inch
    assert abs(png_width - width * 150 / 72) <= 3 and abs(png_height - height * 150 / 72) <= 3


# --- --page a4 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("paper") / "chain.nn"
    path.write_text(CHAIN, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg16", "googlenet", "chain"])
def test_big_networks_fit_a4_pages_with_text_at_least_8_points(name, chain, tmp_path):
    source = chain if name == "chain" else EXAMPLES / f"{name}.nn"
    pdf = tmp_path / "a4.pdf"
    proc = draw(source, pdf, "--page", "a4")
    assert proc.returncode == 0 and proc.stderr.count("warning: a box is too big") == 0, proc.stderr
    pages, sizes = pdfinfo(pdf)
    assert len(sizes) == pages >= 1
    for width, height in sizes:
        assert abs(width - A4[0]) <= 1 and abs(height - A4[1]) <= 1
    unit = point_height(tmp_path)
    printed = min(h for _, _, h in words(pdf)) / unit  # the smallest text, in points on paper
    assert printed >= 8 - 0.05, printed
    assert printed <= SMALLEST_TEXT + 0.05  # never enlarged


def test_a_chain_that_no_folding_shortens_is_spread_over_pages_and_every_layer_is_drawn_once(chain, tmp_path):
    pdf = tmp_path / "chain.pdf"
    assert draw(chain, pdf, "--page", "a4").returncode == 0
    pages, _ = pdfinfo(pdf)
    assert pages >= 2  # 120 boxes of 10 pt do not fit one page at 8 pt
    text = [(page, word) for page, word, _ in words(pdf)]
    for i in range(1, 121):
        units = str(4096 - 8 * i)
        assert sum(1 for _, word in text if word == units + ",") == 1, units  # "dense 4088, relu"
    # a connector at the foot of a page names the next page, and the next page names where it came from
    proc = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True)
    sheets = proc.stdout.split("\f")
    for number in range(2, pages + 1):
        assert f"to page {number}" in sheets[number - 2]
        assert f"from page {number - 1}" in sheets[number - 1]

    dot = run_nnc("diagram", chain, "--page", "a4")  # the DOT text: one graph per page
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.count("digraph nnc {") == pages
    drawn = re.findall(r"^\s*m0_L(\d+) \[", dot.stdout, re.M)
    assert sorted(map(int, drawn)) == list(range(120))


def test_a_page_holds_columns_side_by_side_joined_by_lettered_connectors(tmp_path):
    pdf = tmp_path / "vgg.pdf"
    assert draw(EXAMPLES / "vgg16.nn", pdf, "--page", "a4").returncode == 0
    pages, _ = pdfinfo(pdf)
    assert pages == 1  # VGG-16 layer by layer is 52 cm tall: it fits one A4 page in columns
    found = [word for _, word, _ in words(pdf)]
    assert found.count("A") == 2  # the foot of the first column and the head of the second
    assert found.count("conv") == 13 and found.count("dense") == 3  # every layer, none folded


def test_letter(tmp_path):
    pdf = tmp_path / "letter.pdf"
    assert draw(EXAMPLES / "resnet18.nn", pdf, "--page", "letter").returncode == 0
    _, sizes = pdfinfo(pdf)
    assert all(abs(w - LETTER[0]) <= 1 and abs(h - LETTER[1]) <= 1 for w, h in sizes)


def test_a_small_drawing_is_not_enlarged_and_starts_at_the_top(tmp_path):
    pdf = tmp_path / "small.pdf"
    assert draw(EXAMPLES / "lenet5.nn", pdf, "--page", "a4").returncode == 0
    unit = point_height(tmp_path)
    proc = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True)
    title = re.search(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">lenet5</word>', proc.stdout)
    assert 30 <= float(title.group(1)) <= 60  # below a 15 mm (42.5 pt) margin, not centred down the page
    labels = [h for _, word, h in words(pdf) if word == "32x32x1"]
    assert abs(min(labels) / unit - SMALLEST_TEXT) < 0.05  # scale 1


def test_page_for_svg_and_png_is_one_page_of_that_size(tmp_path):
    svg, png = tmp_path / "r.svg", tmp_path / "r.png"
    assert draw(EXAMPLES / "resnet18.nn", svg, "--page", "a4").returncode == 0
    assert re.search(r'<svg width="595pt" height="842pt"', svg.read_text(encoding="utf-8"))
    assert draw(EXAMPLES / "resnet18.nn", png, "--page", "a4").returncode == 0
    assert struct.unpack(">II", png.read_bytes()[16:24]) == (1240, 1754)  # 210 x 297 mm at 150 dpi


def test_page_for_svg_refuses_a_drawing_of_several_pages(chain, tmp_path):
    svg = tmp_path / "chain.svg"
    proc = draw(chain, svg, "--page", "a4")
    assert proc.returncode == 2
    assert "pages" in proc.stderr and ".pdf" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_depth_is_kept_on_paper(tmp_path):
    folded = run_nnc("diagram", EXAMPLES / "resnet18.nn", "--page", "a4", "--depth", "2")
    assert folded.returncode == 0, folded.stderr
    # depth 2: every block a frame, its two branches folded into boxes (main, shortcut or downsample)
    assert len(re.findall(r"<B>main</B>", folded.stdout)) == 8
    assert re.search(r"label=<<B>layer1_0: basic</B><BR ALIGN=\"LEFT\"/>> labeljust", folded.stdout)  # a frame
    assert not re.search(r"m0_G\d+ \[label=<<B>layer1_0", folded.stdout)  # not a box


def test_multi_page_pdf_is_reproducible(chain, tmp_path):
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    assert draw(chain, first, "--page", "a4").returncode == 0
    assert draw(chain, second, "--page", "a4").returncode == 0
    assert first.read_bytes() == second.read_bytes()
    assert b"D:19700101000000" in first.read_bytes()


def test_joining_pdfs_keeps_every_page():
    from nnlang.emit import pdf

    def page(text: str, size: str) -> bytes:  # size: width and height in inches
        width, height = (72 * int(v) for v in size.split(","))
        proc = subprocess.run(["dot", "-Tpdf", "-Gmargin=0", f"-Gviewport={width},{height}"], input=f'digraph {{ "{text}" }}'.encode(),
                              capture_output=True)
        assert proc.returncode == 0
        return proc.stdout

    joined = pdf.join([page("first", "1,1"), page("second", "2,3"), page("third", "1,2")])
    assert pdf.page_count(joined) == 3
    proc = subprocess.run(["pdftotext", "-", "-"], input=joined, capture_output=True)
    assert [s.strip() for s in proc.stdout.decode().split("\f")][:3] == ["first", "second", "third"]
    proc = subprocess.run(["pdfinfo", "-f", "1", "-l", "3", "-"], input=joined, capture_output=True)
    assert proc.returncode == 0 and proc.stderr == b""
    sizes = re.findall(rb"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", proc.stdout)
    assert [(round(float(w) / 72), round(float(h) / 72)) for w, h in sizes] == [(1, 1), (2, 3), (1, 2)]


def test_hostile_names_stay_escaped_on_every_page():
    import xml.etree.ElementTree as ET

    from nnlang.driver import compile_text
    from nnlang.emit import dot, paper
    from test_diagram import HOSTILE, SVG

    compilation = compile_text(CHAIN)
    assert compilation.ok
    model = compilation.program.models[0]
    model.name = HOSTILE + "model"
    for layer in model.layers:
        layer.name = layer.label = HOSTILE + layer.name
    options = dot.DiagramOptions(legend=True, show=frozenset({"params"}))
    sheets = paper.fit([model], options, "a4")
    assert sheets.pages >= 2
    shown = HOSTILE.replace("\n", " ")
    for page, viewport in enumerate(sheets.viewports):
        text = dot.build([model], options, sheets.layout, page, viewport).source
        proc = subprocess.run(["dot", "-Tsvg"], input=text.encode("utf-8"), capture_output=True)
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
        root = ET.fromstring(proc.stdout)  # well-formed XML
        assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "a", "foreignObject")]
        texts = ["".join(t.itertext()).replace("\u200b", "") for t in root.iter(f"{SVG}text")]
        assert texts[0] == shown + "model" + (" (continued)" if page else "")  # the title, exactly as written
        assert sum(t.startswith(shown) for t in texts) >= 3
