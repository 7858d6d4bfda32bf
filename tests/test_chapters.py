"""Every chapter ends the way a reader expects (issue 12): ungraded "Try it" questions, then
"Further reading" with the PyTorch pages it used, the original papers and a textbook; the
credits and licenses are a page of the site."""
import re

import nbformat
import pytest
import yaml

from course import ASSIGNMENTS, CHAPTERS, ROOT

# The original work each chapter must cite, where the syllabus names one.
PAPERS = {"01-gradient-descent": "Cauchy", "03-autograd": "Baydin", "06-optimizers-schedulers": "Kingma"}


def section(aid, title):
    """The markdown of the chapter's `## title` section, up to the next heading of that level."""
    cells = [c.source for c in nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4).cells
             if c.cell_type == "markdown"]
    text = "\n\n".join(cells)
    found = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert found, f"{aid}: no '## {title}' section"
    return found.group(1)


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_each_chapter_ends_with_try_it_then_further_reading(aid):
    cells = [c for c in nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4).cells if c.cell_type == "markdown"]
    headings = [line for c in cells for line in c.source.splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Try it", "## Further reading"], f"{aid}: the chapter ends with {headings[-2:]}"
    questions = re.findall(r"^\d+\. ", section(aid, "Try it"), re.M)
    assert 3 <= len(questions) <= 5, f"{aid}: {len(questions)} Try it questions"
    references = re.findall(r"^- ", section(aid, "Further reading"), re.M)
    assert 3 <= len(references) <= 6, f"{aid}: {len(references)} references"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_further_reading_names_the_documentation_and_the_original_work(aid):
    reading = section(aid, "Further reading")
    assert "https://pytorch.org/docs/" in reading, f"{aid}: no PyTorch documentation page"
    if aid in PAPERS:
        assert PAPERS[aid] in reading, f"{aid}: {PAPERS[aid]} is not cited"


def test_credits_and_licenses_are_on_the_site():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert "chapters/credits" in files
    credits = (CHAPTERS / "credits.md").read_text()
    for name in ("Neuromatch", "fun_dz", "SimpleGraph", "sq_loss", "CC BY 4.0", "MIT"):
        assert name in credits, f"credits page: {name} missing"
