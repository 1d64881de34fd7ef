"""The HTML report as a person opens it: headless Chromium, offline, loads the page (which
forbids scripts) and prints it; the printed page shows the model's name as its title, the
diagram drawn inline (SVG, no outside resource) and every `--explain` formula ruled in with
its own layer."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from helpers_nnc import nnc_in_process

# conv2d 8 k=3 on 12x12x3: 10x10x8 outputs, 3*3*3*8 + 8 = 224 params, 10*10*8*(3*3*3) = 21,600 MACs;
# maxpool2d 2: 5x5x8; flatten: 200; dense 10: 200*10 + 10 = 2,010 params.
SMALL = """model tiny_cnn {
    input 12x12x3
    conv2d 8 k=3 relu
    maxpool2d 2
    flatten
    dense 10 softmax
}
"""

TWO = """block pair(c) {
    concat {
        branch left { conv2d c k=1 }
        branch right { conv2d c k=3 pad=same }
    }
}
model first { input 8x8x4; pair(2) }
model second { input 8x8x4; mixed: pair(3) }
"""


def _write(tmp_path: Path, text: str, name: str = "net.nn") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _page(tmp_path: Path, text: str, *options: str) -> str:
    proc = nnc_in_process(_write(tmp_path, text), "--format", "html", *options)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Headless Chromium (Debian package `chromium`, installed by CI) with a profile of its own,
    offline: every host name resolves to nothing."""
    program = shutil.which("chromium")
    assert program, "chromium is missing: apt-get install chromium"
    profiles = sorted(tmp_path.glob("profile-*"))
    return subprocess.run([program, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND",
                           f"--user-data-dir={tmp_path / f'profile-{len(profiles)}'}", *arguments],
                          capture_output=True, text=True, timeout=180)


class _Dom(HTMLParser):
    """The parts of a page the tests read: the document's title, the elements met, resource
    references and identifiers, and per table body its rows ([class, first cell's text])."""

    def __init__(self):
        super().__init__()
        self.title = ""
        self.tags: list[str] = []
        self.references: list[str] = []
        self.ids: list[str] = []
        self.bodies: list[list[list[str]]] = []
        self._in_head = False
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.references += [value for key, value in attrs.items() if key in ("src", "href", "xlink:href") and value]
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "head":
            self._in_head = True
        elif tag == "tbody":
            self.bodies.append([])
        elif tag == "tr" and self.bodies:
            self.bodies[-1].append([attrs.get("class") or "", ""])
        elif tag == "td" or (tag == "title" and self._in_head):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False
        if tag in ("td", "title"):
            self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "td" and self.bodies and self.bodies[-1] and not self.bodies[-1][-1][1]:
            self.bodies[-1][-1][1] = data.strip()


def _dom(page: str) -> _Dom:
    dom = _Dom()
    dom.feed(page)
    return dom


# --- the page, as written ---------------------------------------------------------------------------

def test_title_and_heading_are_the_model_names_not_the_path(tmp_path):
    page = _page(tmp_path, TWO)
    assert "<title>first, second</title>" in page
    assert "<h1>first, second</h1>" in page
    assert str(tmp_path) not in page  # the absolute path of the file is nowhere
    assert "<code>net.nn</code>" in page  # the file's own name, as the source of the report
    comparison = tmp_path / "cmp.html"
    proc = nnc_in_process("compare", _write(tmp_path, TWO), "first", "second", "--format", "html", "-o", comparison)
    assert proc.returncode == 0, proc.stderr
    assert "<title>first vs second</title>" in comparison.read_text(encoding="utf-8")


def test_each_model_is_drawn_inline_with_no_script_and_no_outside_resource(tmp_path):
    page = _page(tmp_path, TWO)
    dom = _dom(page)
    assert dom.tags.count("svg") == 2 and dom.tags.count("figure") == 2
    assert "script" not in dom.tags
    assert not [ref for ref in dom.references if not ref.startswith("#")], dom.references
    assert len(dom.ids) == len(set(dom.ids)), "two diagrams share an element id"
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<!--" not in page
    # the diagram is Graphviz's drawing of the model: the branches' convolutions are in it
    drawing = page[page.index("<svg"):page.index("</svg>")]
    assert "conv 1x1, 2" in drawing and "conv 3x3, 2" in drawing


def test_no_diagram_leaves_the_drawing_out(tmp_path):
    page = _page(tmp_path, SMALL, "--no-diagram")
    assert "<svg" not in page and "<figure" not in page


def test_without_graphviz_the_page_says_why_the_diagram_is_missing(tmp_path):
    """dot not on PATH: the report is still written (status 0), with a note and one warning."""
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "page.html"
    env = dict(os.environ, PATH=str(empty))
    proc = subprocess.run([sys.executable, "-m", "nnlang", str(_write(tmp_path, TWO)), "--format", "html", "-o",
                           str(out)], capture_output=True, text=True, timeout=120, env=env,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("nnc: warning: the HTML report has no diagrams: Graphviz's dot is not installed") == 1
    page = out.read_text(encoding="utf-8")
    assert "<svg" not in page and page.count('<p class="note">Diagram left out: Graphviz') == 2
    # the tables are all there: pair(2) is 4*2 + 2 = 10 and 3*3*4*2 + 2 = 74 parameters
    assert f"Total params: {10 + 74}" in page


def test_explain_rows_share_the_body_of_their_layer(tmp_path):
    dom = _dom(_page(tmp_path, SMALL, "--explain", "--no-diagram"))
    bodies = [body for body in dom.bodies if body]
    assert [body[0][1] for body in bodies] == ["conv2d_1 (conv2d, relu)", "maxpool2d_1 (maxpool2d)",
                                               "flatten_1 (flatten)", "dense_1 (dense, softmax)"]
    conv = bodies[0]
    assert [row[0] for row in conv] == ["", "explain", "explain", "explain"]
    assert conv[2][1] == "= params: 3*3*3*8 + 8 = 224"


# --- the page, as Chromium shows and prints it --------------------------------------------------------

def _printed(tmp_path: Path, page: str) -> Path:
    """The page printed to PDF by headless Chromium."""
    html_path = tmp_path / "report.html"
    html_path.write_text(page, encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    proc = _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html_path.as_uri())
    assert pdf.exists() and pdf.stat().st_size > 1000, proc.stderr[-2000:]
    return pdf


def _lines(pdf: Path) -> list[tuple[float, float, str]]:
    """The lines of text of the PDF's first page from top to bottom, as poppler's pdftotext places
    the words: (top, bottom, the words from left to right). Cells of one table row are one line."""
    assert shutil.which("pdftotext"), "pdftotext is missing: apt-get install poppler-utils"
    layout = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-bbox", str(pdf), "-"], capture_output=True,
                            text=True, timeout=120, check=True).stdout
    words = sorted((float(y0), float(x0), float(y1), html.unescape(text)) for x0, y0, y1, text in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', layout))
    lines: list[list] = []
    for top, left, bottom, text in words:
        if lines and abs(lines[-1][0] - top) < 3:
            lines[-1][3].append((left, text))
            lines[-1][1] = max(lines[-1][1], bottom)
        else:
            lines.append([top, bottom, None, [(left, text)]])
    return [(top, bottom, " ".join(text for _, text in sorted(pieces))) for top, bottom, _, pieces in lines]


def _rules(pdf: Path, dpi: int = 144) -> tuple[list[int], float]:
    """The rows of pixels of the first page that hold a horizontal line across most of the
    table (a gray rule), and the scale from PDF points to pixels."""
    assert shutil.which("pdftoppm"), "pdftoppm is missing: apt-get install poppler-utils"
    stem = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", str(dpi), "-gray", str(pdf), str(stem)], check=True,
                   timeout=120)
    image = next(pdf.parent.glob(stem.name + "*.pgm")).read_bytes()
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", image)
    width, height = int(header.group(1)), int(header.group(2))
    pixels = image[header.end():]
    rows = []
    for y in range(height):
        row = pixels[y * width:(y + 1) * width]
        if sum(1 for value in row if value < 245) > width * 0.4:
            rows.append(y)
    return rows, dpi / 72


def test_chromium_shows_the_title_the_diagram_and_each_formula_under_its_layer(tmp_path):
    page = _page(tmp_path, SMALL, "--explain")
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", path.as_uri())
    loaded = _dom(dom.stdout)
    assert loaded.title.strip() == "tiny_cnn", dom.stderr[-2000:]
    assert "script" not in loaded.tags and "svg" in loaded.tags
    # the page forbids scripts: one slipped into it would not run
    injected = tmp_path / "injected.html"
    injected.write_text(page.replace("</body>", "<script>document.title = 'ran';</script></body>"), encoding="utf-8")
    assert _dom(_chromium(tmp_path, "--dump-dom", injected.as_uri()).stdout).title.strip() == "tiny_cnn"

    pdf = _printed(tmp_path, page)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60, check=True).stdout
    assert re.search(r"^Title:\s+tiny_cnn$", info, re.M), info
    lines = _lines(pdf)
    texts = [line[2] for line in lines]
    assert texts[0] == "tiny_cnn"
    # each layer's formulas follow it, before the next layer
    conv = next(i for i, text in enumerate(texts) if text.startswith("conv2d_1 (conv2d, relu)"))
    assert texts[conv + 1:conv + 4] == ["= output: (12 + 2*0 - 3)/1 + 1 = 10 (each axis)",
                                        "= params: 3*3*3*8 + 8 = 224", "= MACs: 10*10*8*(3*3*3) = 21,600"]
    pool = conv + 4
    assert texts[pool].startswith("maxpool2d_1 (maxpool2d)")
    # the diagram is drawn: Graphviz's node texts are on the printed page
    every = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60,
                           check=True).stdout
    assert "conv 3x3, 8, relu" in every and "dense 10, softmax" in every

    # the rules: one under each layer's formulas, none between a layer and its formulas
    rules, scale = _rules(pdf)
    first, formula, last, after = lines[conv], lines[conv + 1], lines[conv + 3], lines[pool]

    def ruled(top: float, bottom: float) -> bool:
        return any(top * scale < y < bottom * scale for y in rules)

    assert not ruled(first[1], formula[0]), "a rule separates conv2d_1 from its formulas"
    assert ruled(last[1], after[0]), "no rule closes conv2d_1's formulas"
