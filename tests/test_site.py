"""The built site: six executed chapters with their facts, figures and buttons."""
import html
import re
import pytest

from course import ASSIGNMENTS
from conftest import build_book
from facts import FACTS


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


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_page_has_executed_figures(site, aid):
    markup = page(site, aid)
    assert len(re.findall(r'<img[^>]+src="(?:data:image/png|\.\./_images/)', markup)) >= 1


@pytest.mark.parametrize("aid", ["02-linear-regression", "06-optimizers-schedulers"])
def test_animation_plays_on_the_static_page(site, aid):
    markup = page(site, aid)
    assert 'class="animation"' in markup and "new Animation(" in markup


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_only_the_tagged_pitfall_shows_a_traceback(site, aid):
    tracebacks = re.findall(r'class="output traceback', page(site, aid))
    if aid == "01-gradient-descent":
        assert len(tracebacks) == 1
        assert "params argument given to the optimizer should be an iterable of Tensors or dicts" in text_of(page(site, aid))
    else:
        assert tracebacks == []


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
