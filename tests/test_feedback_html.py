"""The feedback page's exporter sets by pattern what nbconvert's sets with BeautifulSoup (an
image's missing alt text, focusable inputs and outputs): the same tags, attributes and text."""
import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from course import ROOT
from course.grading.feedback import FeedbackExporter, for_assistive_technology


def tags(html):
    soup = BeautifulSoup(html, "html.parser")
    return [(tag.name, dict(tag.attrs)) for tag in soup.find_all(True)], soup.get_text()


def tricky_notebook():
    """Outputs whose HTML already has an alt, a tabindex, or a class that only starts like the template's."""
    nb = nbformat.v4.new_notebook(cells=[
        new_markdown_cell("An image: ![](data:image/png;base64,iVBORw0KGgo=) and $x^2$"),
        new_code_cell("display(HTML(...))", outputs=[new_output("display_data", data={"text/html": (
            '<img src="a.png" alt="kept"><img\nsrc="b.png"><div class="jp-OutputArea-output-x">x</div>'
            '<div class="jp-OutputArea-output" tabindex="3">y</div><div id=z class=\'b jp-Cell-inputWrapper\'/>'
            '<IMG alt src=c.png/>')})]),
        new_code_cell("print('<img src=x>')", outputs=[new_output("stream", name="stdout", text="<img src=x>\n")]),
    ])
    nb.metadata.language_info = {"name": "python"}
    return nb


@pytest.mark.parametrize("source", ["chapters/06-optimizers-schedulers.ipynb", "tricky"])
def test_feedback_page_has_nbconvert_s_tags_and_attributes(source):
    nb = tricky_notebook() if source == "tricky" else nbformat.read(ROOT / source, as_version=4)
    ours, _ = FeedbackExporter().from_notebook_node(nb)
    theirs, _ = HTMLExporter.from_notebook_node(FeedbackExporter(), nb)  # nbconvert's own, soup and all
    (ours_tags, _), (their_tags, _) = tags(ours), tags(for_assistive_technology(theirs))
    # Ours adds the line-wrapping style, drops the MathJax script, and says the page's language
    # and darkens inline colours (for_assistive_technology): the rest is the same.
    body = lambda found: [t for t in found if t[0] not in ("script", "style")]  # noqa: E731
    assert body(ours_tags) == body(their_tags)
    assert "tabindex" in ours and "No description has been provided for this image" in ours


def test_page_says_its_language_and_inline_colours_reach_4_5_to_1():
    from course.grading.feedback import BACKGROUND, contrast
    page = for_assistive_technology('<html>\n<span style="color: rgb(215,95,95)">TypeError</span>'
                                    '<span style="color: rgb(0,0,0)">x</span>')
    assert page.startswith('<html lang="en">')
    colours = [tuple(map(int, c)) for c in re.findall(r"rgb\((\d+),(\d+),(\d+)\)", page)]
    assert colours[1] == (0, 0, 0) and colours[0] != (215, 95, 95)  # dark enough colours stay as they are
    assert all(contrast(c, BACKGROUND) >= 4.5 for c in colours), colours
    assert contrast((215, 95, 95), BACKGROUND) < 4.5  # the traceback's own red was not
