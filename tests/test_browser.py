"""The site as a reader sees it: every page opened in headless Chromium, without internet.

The site is served from a local http server; every request that leaves 127.0.0.1 is blocked
and reported. One pass over the pages runs every checker (tests/browser.py) and saves a
screenshot of each page under test-output/screenshots/; the tests below read its results.
The last tests plant each fault in a tiny fake site and prove that its checker catches it.
"""
import base64
import re

import pytest

import browser
from browser import site_root  # noqa: F401  (fixture: conftest's `site` or $COURSE_SITE)
from browser import (check_accessibility, check_animations, check_buttons, check_images, check_leaks,
                     check_math, check_title, open_page, search, serve, tour)
from course.authoring.site_fixes import accessible

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# --- the built site ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium():
    with browser.chromium() as chrome:
        yield chrome


@pytest.fixture(scope="module")
def built(site_root):
    root = site_root
    with serve(root) as base:
        yield root, base


@pytest.fixture(scope="module")
def context(chromium):
    ctx = chromium.new_context(viewport=browser.VIEWPORT)
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def visited(built, context):
    """({page: {check: [problems]}}, the 'next' chain): every page of the site, visited once."""
    root, base = built
    pages = browser.html_pages(root)
    assert browser.START in pages, f"no landing page {browser.START} among {pages}"
    browser.clear_screenshots()
    return tour(context, base, root, browser.source_dir())


@pytest.fixture(scope="module")
def visits(visited):
    return visited[0]


def report(visits, check):
    bad = {rel: found[check] for rel, found in visits.items() if found[check]}
    return "\n".join(f"{rel}:\n  " + "\n  ".join(problems) for rel, problems in bad.items())


@pytest.mark.parametrize("check", ["load", "title", "errors", "external", "math", "images",
                                   "animations", "buttons", "leaks", "accessibility", "navigation"])
def test_every_page(visits, check):
    """load: HTTP 200; title; errors: no console error or uncaught exception; external: no
    request left localhost; math: typeset, no raw TeX; images: all loaded; animations: Play
    plays; buttons: Colab/download open existing notebooks; leaks: no solution code;
    accessibility: no serious or critical axe-core violation (every rule axe runs by default;
    none is disabled); navigation: 'next' and 'previous' lead to the right pages."""
    problems = report(visits, check)
    assert not problems, f"{check} problems:\n{problems}"


def test_math_was_typeset_and_every_page_screenshotted(visits):
    chapters = [rel for rel in visits if rel.startswith("chapters/") and rel != browser.START]
    assert chapters, "no chapter page was built"
    assert any(visits[rel]["math_page"] for rel in chapters), "MathJax typeset no formula on any chapter"
    shots = {p.name for p in browser.SCREENSHOTS.glob("*.png")}
    missing = [rel for rel in visits if rel.replace("/", "__").removesuffix(".html") + ".png" not in shots
               and not visits[rel]["redirect"]]
    assert not missing, f"no screenshot of {missing}"


def test_leak_check_has_solution_lines_to_look_for():
    assert len(browser.page_secrets()) > 20, "the solutions should hold lines to look for"


def test_next_links_walk_through_every_chapter(built, visited):
    root, _ = built
    _, chain = visited
    chapters = sorted(rel for rel in browser.html_pages(root) if rel.startswith("chapters/"))
    assert sorted(chain) == chapters, f"'next' from the landing page walks {chain}, not all of {chapters}"


def test_search_for_autograd_finds_the_autograd_chapter(built, context):
    root, base = built
    page, log, _ = open_page(context, base + "chapters/intro.html")
    try:
        results = search(page, "autograd")
        assert any("chapters/03-autograd.html" in url for url in results), \
            f"searching 'autograd' gives {results}"
        assert not log.problems() and not log.external, (log.problems(), log.external)
    finally:
        page.close()


# --- each checker catches its planted fault ---------------------------------------------

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def jshtml_animation():
    """A real matplotlib to_jshtml animation, without its CDN stylesheet link."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40)
    (line,) = ax.plot([0, 1], [0, 0])
    anim = FuncAnimation(fig, lambda i: line.set_ydata([0, i]) or (line,), frames=4, interval=50)
    markup = anim.to_jshtml()
    plt.close(fig)
    return re.sub(r"<link[^>]*font-awesome[^>]*>", "", markup)


PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script>window.MathJax = {{tex: {{inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]]}},
 options: {{processHtmlClass: "math", ignoreHtmlClass: "tex2jax_ignore|mathjax_ignore"}}}};</script>
<script defer src="/_static/mathjax/tex-chtml.js"></script>{head}</head>
<body class="tex2jax_ignore mathjax_ignore">{body}</body></html>"""


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """A tiny site: good.html passes every checker; each other page has one planted fault."""
    root = tmp_path_factory.mktemp("fake-site")
    browser.copy_mathjax(root / "_static")
    (root / "_images").mkdir()
    (root / "_images" / "dot.png").write_bytes(PNG)
    (root / "_sources" / "chapters").mkdir(parents=True)
    (root / "_sources" / "chapters" / "good.ipynb").write_text("{}")
    animation = jshtml_animation()
    pages = {
        "good": dict(body=f"""<main><p>Prose with a formula <span class="math">\\(\\frac{{a}}{{b}}\\)</span></p>
            <div class="math">\\[x^2\\]</div><pre>code may say \\frac and $$ freely</pre>
            <img src="_images/dot.png" alt="a dot">{accessible(animation)}</main>"""),
        "inaccessible": dict(body='<img src="_images/dot.png"><button></button>'),
        "raw-animation": dict(body=animation),
        "figure-removed": dict(body='<img src="_images/gone.png">'),
        "raw-math": dict(body="<p>Display math left as text: $$x^2$$</p>"),
        "raw-inline-math": dict(body="<p>The loss $\\frac{1}{n}\\sum_i e_i$ is</p>"),
        "broken-formula": dict(body='<p><span class="math">\\(\\frac{1}\\)</span></p>'),
        "undefined-macro": dict(body='<p><span class="math">\\(\\fracc{1}{2}\\)</span></p>'),
        "no-mathjax": dict(body='<p><span class="math">\\(x\\)</span></p>',
                           head='<script>window.MathJax = undefined;</script>'),
        "still-animation": dict(body=animation.replace(".play_animation()", ".pause_animation()")),
        "js-error": dict(body="<script>undefinedFunction();</script>"),
        "cdn": dict(head='<link rel="stylesheet" href="https://cdn.example.org/font.css">'),
        "leak": dict(body="<pre>### BEGIN SOLUTION\nw = w - lr * grad\n### END SOLUTION</pre>"),
        "": dict(title="", body="<p>untitled</p>"),
    }
    for name, parts in pages.items():
        html = PAGE.format(title=parts.get("title", name), head=parts.get("head", ""),
                           body=parts.get("body", ""))
        if name == "no-mathjax":
            html = html.replace('<script defer src="/_static/mathjax/tex-chtml.js"></script>', "")
        (root / f"{name or 'untitled'}.html").write_text(html)
    chapters = root / "chapters"
    chapters.mkdir()
    buttons = """<div class="dropdown-download-buttons"><a class="btn-download-source-button"
        href="../_sources/chapters/{dl}.ipynb">.ipynb</a></div>
        <a href="https://colab.research.google.com/github/o/r/blob/main/chapters/{colab}.ipynb">Colab</a>"""
    (chapters / "good.html").write_text(PAGE.format(title="c", head="", body=buttons.format(dl="good", colab="good")))
    (chapters / "gone.html").write_text(PAGE.format(title="c", head="", body=buttons.format(dl="gone", colab="gone")))
    source = tmp_path_factory.mktemp("fake-repo")
    (source / "chapters").mkdir()
    (source / "chapters" / "good.ipynb").write_text("{}")
    (source / "chapters" / "gone.ipynb").write_text("{}")
    with serve(root) as base:
        yield root, base, source


@pytest.fixture
def fake_page(fake, context):
    opened = []

    def open_(name):
        page, log, status = open_page(context, fake[1] + name)
        opened.append(page)
        return page, log

    yield open_
    for page in opened:
        page.close()


def test_good_fake_page_passes_every_checker(fake_page):
    page, log = fake_page("good.html")
    assert page.locator("mjx-container").count() == 2
    found = (check_title(page) + check_math(page) + check_images(page) + check_animations(page)
             + check_leaks(page, {"w = w - lr * grad"}) + check_accessibility(page) + log.problems() + log.external)
    assert found == []


@pytest.mark.parametrize("name, checker, expected", [
    ("figure-removed.html", check_images, "image did not load: _images/gone.png"),
    ("raw-math.html", check_math, "raw TeX ($$)"),
    ("raw-inline-math.html", check_math, "raw TeX (a TeX command)"),
    ("broken-formula.html", check_math, "formula MathJax could not render"),
    ("undefined-macro.html", check_math, "formula MathJax could not render: \\fracc{1}{2}"),
    ("no-mathjax.html", check_math, "raw TeX (a \\( \\) \\[ \\] delimiter)"),
    ("still-animation.html", lambda page: check_animations(page, timeout=1000),
     "Play did not move the frame slider"),
    ("leak.html", lambda page: check_leaks(page, {"w = w - lr * grad"}), "solution marker"),
    ("leak.html", lambda page: check_leaks(page, {"w = w - lr * grad"}), "solution line in the page: w = w - lr * grad"),
    ("untitled.html", check_title, "no <title>"),
    ("inaccessible.html", check_accessibility, "axe image-alt (critical, 1 elements)"),
    ("inaccessible.html", check_accessibility, "axe button-name (critical, 1 elements)"),
    # matplotlib's animation as to_jshtml writes it: site_fixes.accessible names its frame and slider.
    ("raw-animation.html", check_accessibility, "axe image-alt (critical, 1 elements)"),
    ("raw-animation.html", check_accessibility, "axe label (critical, 1 elements)"),
])
def test_checker_catches_planted_fault(fake_page, name, checker, expected):
    page, _ = fake_page(name)
    problems = checker(page)
    assert any(expected in p for p in problems), problems


def test_missing_figure_also_shows_as_console_error(fake_page):
    _, log = fake_page("figure-removed.html")
    assert any("404" in e for e in log.problems()), log.problems()


def test_javascript_error_is_caught(fake_page):
    _, log = fake_page("js-error.html")
    assert any("undefinedFunction" in e for e in log.problems()), log.problems()


def test_request_off_localhost_is_blocked_and_reported(fake_page):
    _, log = fake_page("cdn.html")
    assert log.external == ["https://cdn.example.org/font.css"]


def test_buttons_checker_catches_a_missing_notebook(fake, fake_page):
    root, _, source = fake
    page, _ = fake_page("chapters/good.html")
    assert check_buttons(page, root, source) == []
    page, _ = fake_page("chapters/gone.html")
    assert any("missing file: _sources/chapters/gone.ipynb" in p for p in check_buttons(page, root, source))
    (source / "chapters" / "gone.ipynb").unlink()
    assert any("not in the repository" in p for p in check_buttons(page, root, source))


@pytest.fixture
def fake_book(tmp_path):
    """Three chained pages: intro -> a -> b, each linking 'previous' to the one before."""
    root = tmp_path
    browser.copy_mathjax(root / "_static")
    (root / "chapters").mkdir()

    def page(name, prev=None, next_=None):
        links = (f'<a class="left-prev" href="{prev}">previous</a>' if prev else "") + \
                (f'<a class="right-next" href="{next_}">next</a>' if next_ else "")
        (root / "chapters" / name).write_text(PAGE.format(title=name, head="", body=links))

    page("intro.html", next_="a.html")
    page("a.html", prev="intro.html", next_="b.html")
    page("b.html", prev="a.html")
    return root, page


def tour_of(root, context):
    with serve(root) as base:
        results, chain = tour(context, base, root, root, shots=None)
    return {rel: found["navigation"] for rel, found in results.items() if found["navigation"]}, chain


def test_tour_follows_a_good_chain(fake_book, context):
    root, _ = fake_book
    assert tour_of(root, context) == ({}, ["chapters/intro.html", "chapters/a.html", "chapters/b.html"])


def test_next_link_to_nowhere_is_caught(fake_book, context):
    root, page = fake_book
    page("a.html", prev="intro.html", next_="missing.html")
    problems, chain = tour_of(root, context)
    assert chain == ["chapters/intro.html", "chapters/a.html"]
    assert problems == {"chapters/a.html": ["'next' (missing.html) leads to a broken page (HTTP 404)"]}


def test_wrong_previous_link_is_caught(fake_book, context):
    root, page = fake_book
    page("b.html", prev="intro.html")
    problems, _ = tour_of(root, context)
    assert any("'previous' leads to" in p and "not chapters/a.html" in p
               for p in problems.get("chapters/b.html", [])), problems
