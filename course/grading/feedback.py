"""Feedback pages a student can read, with the templates compiled once per process.

- ReadableFeedback (a preprocessor of GenerateFeedback): the setup cell's code is left out, a
  figure the grader did not draw (its text stand-in, `<Figure size 440x360 with 2 Axes>`) is
  dropped, and math becomes MathML, which the browser typesets with no network (the page is
  opened offline as often as not; MathJax came from a CDN).
- FeedbackExporter: nbconvert's HTML exporter without the MathJax script, with long lines
  wrapped instead of cut at the box's edge. nbgrader builds a new exporter, and so a new Jinja
  environment, for every submission; the compiled templates are kept in memory and reused.
  nbconvert parses each page it rendered with BeautifulSoup to add an image's missing alt text
  and make inputs and outputs focusable: two thirds of a page's time. The same attributes are
  added to the template's own tags by pattern instead. For readers with assistive technology
  (the axe-core audit of tests/test_report.py) the page says its language, links are
  underlined and dark enough, and the colours of tracebacks are darkened to a 4.5:1 contrast.
"""
import re

import jinja2
from latex2mathml.converter import convert
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import NbGraderPreprocessor

_compiled = {}
FIGURE_STAND_IN = re.compile(r"^<(Figure|matplotlib\.\w+\.\w+) size [\d.]+x[\d.]+ with \d+ Axes>$")
# $$...$$ (display) or $...$ (inline) outside code: not \$ and not a lone $ followed by a space.
MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\d)", re.S)
CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
PAGE_CSS = ("<style>/* course: long lines wrapped, not cut; links readable */\n"
            "pre, .jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }\n"
            "math[display='block'] { margin: 0.6em 0; }\n"
            # Links told apart from text by more than colour, and dark enough on the grey boxes
            # (Bootstrap's #337ab7 is 4.2:1 there; the (Top) links were #bbb on the blue headings).
            "a, a:visited { color: #1d4f7c; text-decoration: underline; }\n"
            "div.nbgrader_cell .panel-heading a, div.nbgrader_cell .panel-heading a:visited { color: #fff; }\n"
            # A heading's ¶ link shows when the heading is pointed at or the link has the focus.
            "a.anchor-link { text-decoration: none; opacity: 0; }\n"
            ":hover > a.anchor-link, a.anchor-link:focus { opacity: 1; }</style>\n")
LANGUAGE = "en"  # the language the course is written in
HTML_START = re.compile(r"<html(?![^>]*\slang=)", re.I)
# The lightest background text sits on in a feedback page (the code and output boxes).
BACKGROUND = (0xf5, 0xf5, 0xf5)
INLINE_RGB = re.compile(r"color:\s*rgb\((\d+),\s*(\d+),\s*(\d+)\)")
# What nbconvert's soup.select("img:not([alt])") and (".jp-Notebook div.jp-Cell-inputWrapper",
# ".jp-Notebook div.jp-OutputArea-output") find, as start tags (every cell is inside .jp-Notebook).
START_TAG = re.compile(r"<(img|div)(\s[^>]*)?>", re.I)
ATTRIBUTE = r"""\s{name}(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?(?=[\s/>]|$)"""
CLASS = re.compile(r"""\sclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
TABINDEX = re.compile(ATTRIBUTE.format(name="tabindex"), re.I)
ALT = re.compile(ATTRIBUTE.format(name="alt"), re.I)
FOCUSED = {"jp-Cell-inputWrapper", "jp-OutputArea-output"}
NO_ALT = ' alt="No description has been provided for this image"'


def _accessible(match):
    name, attributes = match.group(1), match.group(2) or ""
    closing = "/" if attributes.endswith("/") else ""
    attributes = attributes[:-1] if closing else attributes
    if name.lower() == "img":
        return match.group(0) if ALT.search(attributes) else f"<{name}{attributes}{NO_ALT}{closing}>"
    found = CLASS.search(attributes)
    if not found or not FOCUSED & set("".join(g or "" for g in found.groups()).split()):
        return match.group(0)
    return f'<{name}{TABINDEX.sub("", attributes)} tabindex="0"{closing}>'


MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)


def _luminance(rgb):
    linear = [c / 255 / 12.92 if c <= 0.04045 * 255 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground, background=BACKGROUND):
    """WCAG's contrast ratio of two sRGB colours (1 to 21)."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable(rgb, background=BACKGROUND, ratio=4.6):
    """The colour, darkened (its hue kept) until it reaches `ratio` against the background."""
    rgb = tuple(rgb)
    while contrast(rgb, background) < ratio:
        rgb = tuple(int(c * 0.95) for c in rgb)
    return rgb


def _readable_inline(match):
    return "color: rgb({},{},{})".format(*readable(int(c) for c in match.groups()))


def for_assistive_technology(html):
    """The page with its language said and its inline colours (tracebacks' 256-colour ANSI
    codes) made readable; the links are PAGE_CSS's."""
    html = HTML_START.sub(f'<html lang="{LANGUAGE}"', html, count=1)
    return INLINE_RGB.sub(_readable_inline, html)


def _mathml(match):
    latex, display = (match.group(1), "block") if match.group(1) is not None else (match.group(2), "inline")
    try:
        return convert(latex.strip(), display=display)
    except Exception:  # a construct the converter does not know: the LaTeX stays, readable as text
        return match.group(0)


def math_to_mathml(markdown):
    """Markdown with its $...$ and $$...$$ replaced by MathML; code spans and blocks untouched."""
    parts = CODE.split(markdown)
    return "".join(part if n % 2 else MATH.sub(_mathml, part) for n, part in enumerate(parts))


class ReadableFeedback(NbGraderPreprocessor):
    """Before the feedback page is written: leave out the setup cell's code, drop figures the
    grader did not draw, and turn math into MathML."""

    def preprocess_cell(self, cell, resources, index):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup":
            cell.metadata["transient"] = {"remove_source": True}  # nbconvert's templates skip such a cell's input
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        elif cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.output_type in ("display_data", "execute_result") and set(o.get("data", {})) == {"text/plain"}
                                    and FIGURE_STAND_IN.match(str(o["data"]["text/plain"]).strip()))]
        return cell, resources


class _InMemory(jinja2.BytecodeCache):
    def load_bytecode(self, bucket):
        if bucket.key in _compiled:  # the key includes a checksum of the template's source
            bucket.bytecode_from_string(_compiled[bucket.key])

    def dump_bytecode(self, bucket):
        _compiled[bucket.key] = bucket.bytecode_to_string()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter: templates compiled once per process, no MathJax, lines wrapped."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _InMemory()
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        # HTMLExporter.from_notebook_node up to its BeautifulSoup pass, whose attributes follow.
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code", self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                                       resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        html = START_TAG.sub(_accessible, html)
        html = MATHJAX.sub("<!-- no MathJax: math is MathML (course/grading/feedback.py) -->", html, count=1)
        html = for_assistive_technology(html)
        return html.replace("</head>", PAGE_CSS + "</head>", 1), resources
