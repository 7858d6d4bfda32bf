"""The built site: every executed chapter with their facts, figures and buttons."""
import base64
import hashlib
import html
import re

import nbformat
import pytest

from course import ASSIGNMENTS, CHAPTERS
from conftest import build_book
from facts import FACTS
from test_contract import PITFALLS

pytestmark = pytest.mark.slow


def page(site, name):
    path = site / "chapters" / f"{name}.html"
    assert path.is_file(), f"{path} was not built"
    return path.read_text()


def text_of(markup):
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def test_landing_page_links_every_chapter(site):
    index = (site / "chapters" / "intro.html").read_text()
    for aid in ASSIGNMENTS:
        assert f'href="{aid}.html"' in index


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_syllabus_facts_appear_on_the_page(site, aid):
    text = text_of(page(site, aid))
    missing = [fact for fact in FACTS[aid] if fact not in text]
    assert not missing, f"{aid} does not show {missing}"


def stored_in_notebook(aid):
    """(sha256 of every image, the text of every output and markdown cell) the chapter notebook
    stores: what a page can show without executing anything."""
    cells = nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4).cells
    images = [o.get("data", {}).get("image/png", "") for c in cells for o in c.get("outputs", [])]
    images += [m for c in cells if c.cell_type == "markdown" for m in re.findall(r"data:image/png;base64,([\w+/=]+)", c.source)]
    texts = [c.source for c in cells if c.cell_type == "markdown"]
    texts += [o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in cells for o in c.get("outputs", [])]
    return ({hashlib.sha256(base64.b64decode(i.replace("\n", ""))).hexdigest() for i in images if i},
            re.sub(r"\s+", " ", "\n".join(texts)))


def outputs_made_by_the_build(site, aid):
    """The page's cell outputs (figures written to _images, printed text) that the chapter
    notebook does not store: only executing the chapter while building can have made them."""
    markup = page(site, aid)
    images, texts = stored_in_notebook(aid)
    made = [name for name in re.findall(r'<img[^>]+src="\.\./_images/([^"]+\.png)"', markup)
            if hashlib.sha256((site / "_images" / name).read_bytes()).hexdigest() not in images]
    for block in re.findall(r'<div class="output (?:stream|text_plain)[^"]*">\s*<div class="highlight"><pre>(.*?)</pre>',
                            markup, re.S):
        printed = re.sub(r"\s+", " ", text_of(block)).strip()
        if printed and printed not in texts:
            made.append(printed[:80])
    return made


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_page_shows_outputs_the_build_executed(site, aid):
    """Not only the figures the release bakes into the notebook (reference-output cells): the
    build ran the chapter, so its page shows outputs the notebook does not hold."""
    assert outputs_made_by_the_build(site, aid), f"{aid}: every output on the page is stored in the notebook"


@pytest.mark.parametrize("aid", ["02-linear-regression", "06-optimizers-schedulers"])
def test_animation_is_embedded_as_javascript_on_the_static_page(site, aid):
    # Whether it plays (Play moves the frame slider) is test_browser.py's check_animations.
    markup = page(site, aid)
    assert 'class="animation"' in markup and "new Animation(" in markup


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_only_the_tagged_pitfalls_show_a_traceback(site, aid):
    """A traceback on a page is one of the syllabus's pitfalls, shown on purpose, and no other."""
    tracebacks = re.findall(r'class="output traceback', page(site, aid))
    assert len(tracebacks) == len(PITFALLS.get(aid, [])), aid
    if aid == "01-gradient-descent":
        assert "params argument given to the optimizer should be an iterable of Tensors or dicts" in text_of(page(site, aid))
    if aid == "00-tensors":
        assert "only Tensors of floating point dtype can require gradients" in text_of(page(site, aid))


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_launch_and_download_buttons(site, aid):
    markup = page(site, aid)
    assert f"colab.research.google.com/github/" in markup and f"chapters/{aid}.ipynb" in markup
    assert f"_sources/chapters/{aid}.ipynb" in markup
    assert (site / "_sources" / "chapters" / f"{aid}.ipynb").is_file()


def test_search_index_knows_the_chapters(site):
    assert (site / "search.html").is_file()
    index = (site / "searchindex.js").read_text()
    assert "autograd" in index.lower() and "03-autograd" in index


def test_unchanged_rebuild_executes_nothing(site):
    again = build_book()
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Executing notebook" not in again.stdout + again.stderr


@pytest.fixture(scope="session")
def solutions_site(site):
    """`make book-solutions`: the second site, built on the main build's execution cache."""
    from course.authoring import solutions_site as module

    build = module.build()
    assert build.returncode == 0, build.stdout[-5000:] + build.stderr[-5000:]
    return module.OUT / "_build" / "html"


def test_site_with_solutions_folds_each_reference_solution_and_no_hidden_test(solutions_site):
    from course import source_notebook
    from course.contract import EXERCISES
    from leaks import REGIONS, find_leaks, secret_lines, student_text

    for aid in ASSIGNMENTS:
        path = solutions_site / "chapters" / f"{aid}.html"
        markup = path.read_text()
        folded = re.findall(r'<details class="reference-solution">\s*<summary>Reference solution: <code[^>]*>'
                            r'(?:<span[^>]*>)?([\w]+)', markup)
        assert folded == list(EXERCISES[aid]), (aid, folded)
        solution = secret_lines(source_notebook(aid), REGIONS[:1])
        assert solution and all(line in student_text(path) for line in solution), aid
        hidden = secret_lines(source_notebook(aid), REGIONS[1:])
        assert find_leaks([path], hidden) == [], aid


def test_default_site_shows_no_reference_solution(site):
    for aid in ASSIGNMENTS:
        assert "reference-solution" not in page(site, aid)


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_setup_cell_is_folded_on_the_page_and_in_the_notebook(site, aid):
    import nbformat
    from course import CHAPTERS

    markup = page(site, aid)
    start = markup.index('class="cell tag_hide-input tag_setup')
    folded = markup[start:markup.index("</details>", start)]
    assert '<details class="admonition hide above-input">' in folded and "run this cell first" in folded
    assert markup.count("run this cell first") == 1
    setup = next(c for c in nbformat.read(CHAPTERS / f"{aid}.ipynb", as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert setup.metadata["jupyter"]["source_hidden"] and setup.metadata["cellView"] == "form"
