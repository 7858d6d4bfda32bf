"""Shared helpers of the browser tests: serve a built site, drive Debian's Chromium, check pages.

Every checker takes an open Playwright page and returns a list of problems (strings); an
empty list means the page is fine. The checkers are also run on planted faults in
tests/test_browser.py, so a checker that stops catching anything fails the suite.

For development, point the tests at another build without rebuilding the repository's _build/:
    COURSE_SITE=/tmp/site/_build/html   the built html folder to test instead of the `site`
                                        fixture's (the `site_root` fixture then skips the build)
    COURSE_SOURCE=/tmp/copy             the repository that site was built from (its
                                        chapters/<id>.ipynb are what the Colab buttons open)
"""
import contextlib
import functools
import html
import http.server
import importlib.util
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest

from course import ASSIGNMENTS, ROOT, source_notebook
from leaks import MARKERS, REGIONS, secret_lines

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SCREENSHOTS = ROOT / "test-output" / "screenshots"
# axe-core, pinned in the Makefile (`make axe`, which `make test` runs), from the npm registry.
AXE = ROOT / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")  # the axe impacts that fail a page
VIEWPORT = {"width": 1280, "height": 900}
# Folders of a Sphinx build that hold assets and templates, not pages.
NOT_PAGES = {"_static", "_sources", "_images", "_downloads", ".doctrees", "jupyter_execute"}


@pytest.fixture(scope="session")
def site_root(request):
    """The built html folder under test: conftest's `site` (which runs the real build), or
    $COURSE_SITE during development, in which case no build runs."""
    if os.environ.get("COURSE_SITE"):
        return Path(os.environ["COURSE_SITE"]).resolve()
    return Path(request.getfixturevalue("site"))


def source_dir():
    """The repository the site was built from: $COURSE_SOURCE when set, else this checkout."""
    return Path(os.environ["COURSE_SOURCE"]).resolve() if os.environ.get("COURSE_SOURCE") else ROOT


def mathjax_dir():
    """The MathJax that sphinx-mathjax-offline copies into a build's _static/mathjax."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    return Path(spec.origin).parent / "static" / "mathjax"


def html_pages(root):
    """Every page of a built site, as paths relative to it ('chapters/intro.html')."""
    root = Path(root)
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*.html")
        if not NOT_PAGES.intersection(p.relative_to(root).parts[:-1])
    )


def redirect_target(path):
    """The url of a <meta http-equiv="refresh"> page (Jupyter Book's index.html), else None."""
    match = re.search(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"',
                      Path(path).read_text(errors="replace"), flags=re.I)
    return html.unescape(match.group(1)) if match else None


def _solution(aid):
    """The notebook built from solutions/<aid>/<aid>.md in the repository the site was built from."""
    return source_dir() / source_notebook(aid).relative_to(ROOT)


@functools.cache
def _secrets(aid):
    path = _solution(aid)
    assert path.is_file(), f"{path} is missing: build the sources there (`course release`) before scanning its site"
    return frozenset(secret_lines(path))


@functools.cache
def page_secrets(aid=None):
    """Lines that must not appear on any page: every chapter's solution and hidden-test lines
    (secret_lines already drops those that some chapter shows openly)."""
    return frozenset().union(*(_secrets(a) for a in ASSIGNMENTS))


# --- serving and launching -------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(root):
    """Serve the folder `root` on 127.0.0.1 at a free port; yields the base url ('http://…/')."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def ensure_chromium():
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run `make system` (apt-get install chromium)")


@contextlib.contextmanager
def chromium():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright
    ensure_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Log:
    """What a page did besides rendering: console errors, uncaught exceptions, blocked requests."""

    def __init__(self):
        self.errors = []
        self.external = []

    def problems(self):
        return list(self.errors)


def watch(page):
    """Block every request that leaves localhost and record errors; returns the page's Log."""
    log = Log()

    def route(route):
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            log.external.append(url)
            route.abort("blockedbyclient")

    def console(message):
        if message.type == "error":
            source = (message.location or {}).get("url", "")
            if source not in log.external:  # a blocked request is reported as such
                log.errors.append(f"console error: {message.text} ({source})")

    page.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda error: log.errors.append(f"uncaught exception: {error}"))
    return log


def open_page(context, url, lands_on=None):
    """A new tab at `url`, loaded and with MathJax's first typeset done; returns (page, log, status).

    lands_on: the url a redirect page is expected to move on to (waited for, not asserted)."""
    page = context.new_page()
    log = watch(page)
    response = page.goto(url, wait_until="load")
    if lands_on:
        with contextlib.suppress(Exception):
            page.wait_for_url(lands_on, timeout=10000, wait_until="load")
    wait_for_mathjax(page)
    return page, log, (response.status if response else None)


def wait_for_mathjax(page):
    page.evaluate("""async () => {
        const mj = window.MathJax;
        if (mj && mj.startup && mj.startup.promise) { await mj.startup.promise; }
    }""")


# --- checkers ---------------------------------------------------------------------------

def check_title(page):
    title = page.title().strip()
    return [] if title else ["the page has no <title>"]


# Text of the page outside code and outside MathJax's output: what a reader reads as prose.
_PROSE_JS = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll('script, style, noscript, template, pre, code, textarea, '
        + 'mjx-container, .MathJax, .highlight').forEach(e => e.remove());
    return body.textContent;
}"""
RAW_TEX = [
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"\\[()\[\]]"), "a \\( \\) \\[ \\] delimiter"),
    (re.compile(r"\\[A-Za-z]{2,}"), "a TeX command"),
    (re.compile(r"\$[^$\n]*?[\\^_{][^$\n]*?\$"), "inline $…$ math"),
]
# TeX that MathJax could not render: error nodes, or undefined macros (shown in red).
_MATH_ERRORS_JS = """() => {
    const bad = [];
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.document && mj.startup.document.math) {
        for (const item of mj.startup.document.math) {
            let broken = false;
            if (item.root && item.root.walkTree) {
                item.root.walkTree(node => {
                    if (node.isKind('merror')) broken = true;
                    if (node.isKind('mtext') && node.attributes
                        && node.attributes.get('mathcolor') === 'red') broken = true;
                });
            }
            if (broken) bad.push(String(item.math));
        }
    }
    document.querySelectorAll('mjx-merror').forEach(e => bad.push(e.getAttribute('data-mjx-error') || 'a MathJax error'));
    return Array.from(new Set(bad));
}"""
_MATH_ELEMENTS_JS = """() => {
    const math = Array.from(document.querySelectorAll('.math'));
    return {
        math: math.length,
        containers: document.querySelectorAll('mjx-container').length,
        unrendered: math.filter(e => !e.querySelector('mjx-container'))
                        .map(e => e.textContent.replace(/\\s+/g, ' ').trim().slice(0, 80)),
        mathjax: !!(window.MathJax && window.MathJax.startup && window.MathJax.startup.document),
    };
}"""


def check_math(page):
    """No raw TeX left in the prose; MathJax loaded and typeset every formula without error."""
    problems = []
    prose = page.evaluate(_PROSE_JS)
    for pattern, what in RAW_TEX:
        for match in list(pattern.finditer(prose))[:3]:
            around = re.sub(r"\s+", " ", prose[max(0, match.start() - 40): match.end() + 40])
            problems.append(f"raw TeX ({what}) in the text: …{around.strip()}…")
    state = page.evaluate(_MATH_ELEMENTS_JS)
    if state["math"] and not state["mathjax"]:
        problems.append(f"{state['math']} formulas but MathJax did not load")
    if state["math"] and not state["containers"]:
        problems.append("formulas on the page but no MathJax output (mjx-container)")
    problems += [f"formula not typeset: {text}" for text in state["unrendered"][:5]]
    problems += [f"formula MathJax could not render: {tex}" for tex in page.evaluate(_MATH_ERRORS_JS)]
    return problems


def has_math(page):
    """Whether MathJax typeset a formula on the page."""
    return page.evaluate("() => document.querySelectorAll('mjx-container').length") > 0


_IMAGES_JS = """async () => {
    const images = Array.from(document.images);
    images.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
    await Promise.all(images.map(i => i.complete ? null : new Promise(done => {
        i.addEventListener('load', done); i.addEventListener('error', done); setTimeout(done, 10000);
    })));
    return images.filter(i => !i.complete || i.naturalWidth === 0)
                 .map(i => (i.getAttribute('src') || '(no src)').slice(0, 120));
}"""


def check_images(page):
    """Every <img> loaded (naturalWidth > 0)."""
    return [f"image did not load: {src}" for src in page.evaluate(_IMAGES_JS)]


def check_animations(page, timeout=3000):
    """Each matplotlib animation (div.animation from to_jshtml) plays: Play moves the frame slider."""
    problems = []
    animations = page.locator("div.animation")
    for i in range(animations.count()):
        animation = animations.nth(i)
        slider = animation.locator("input.anim-slider, input[type=range]").first
        play = animation.locator('button[title="Play"]').first
        if not slider.count() or not play.count():
            problems.append(f"animation {i + 1}: no frame slider or no Play button")
            continue
        if int(slider.get_attribute("max") or 0) < 1:
            problems.append(f"animation {i + 1}: the slider has fewer than two frames")
            continue
        before = slider.input_value()
        try:
            play.click(timeout=timeout)
            page.wait_for_function("([el, v]) => el.value !== v",
                                   arg=[slider.element_handle(), before], timeout=timeout)
        except Exception as error:  # timeout or click failure
            problems.append(f"animation {i + 1}: Play did not move the frame slider "
                            f"(still {before}): {str(error).splitlines()[0]}")
        finally:
            pause = animation.locator('button[title="Pause"]').first
            if pause.count():
                with contextlib.suppress(Exception):
                    pause.click(timeout=2000)
    return problems


_TEXT_JS = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll('script, style').forEach(e => e.remove());
    return body.textContent;
}"""


_AXE_RUN_JS = """async () => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.map(n => n.target.join(' ')),
    }));
}"""


def axe_violations(page):
    """Every violation axe-core finds on the open page: [{id, impact, help, targets}]."""
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} is missing: run `make axe` (npm install of the pinned axe-core)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE.read_text())  # inline: no request for the network block to see
    return page.evaluate(_AXE_RUN_JS)


def check_accessibility(page, impacts=SERIOUS):
    """No axe-core violation of a serious or critical impact: one line per rule, with its
    impact, how many elements and the first selectors."""
    problems = []
    for v in axe_violations(page):
        if v["impact"] in impacts:
            shown = ", ".join(v["targets"][:5]) + (f", … ({len(v['targets']) - 5} more)" if len(v["targets"]) > 5 else "")
            problems.append(f"axe {v['id']} ({v['impact']}, {len(v['targets'])} elements): {v['help']}: {shown}")
    return problems


def check_leaks(page, secrets=None):
    """No solution marker or solution/hidden-test line in the page's text (hidden parts too).

    secrets: the lines to look for; by default those of the page's chapter (page_secrets)."""
    if secrets is None:
        secrets = page_secrets(Path(urlsplit(page.url).path).stem)
    text = re.sub(r"\s+", " ", page.evaluate(_TEXT_JS))
    problems = [f"solution marker in the page: {marker}" for marker in MARKERS if marker in text]
    problems += [f"solution line in the page: {line}" for line in sorted(secrets) if line in text]
    return problems


def check_buttons(page, root, source):
    """Launch (Colab) and download buttons of a notebook page open notebooks that exist.

    root: the built html folder; source: the repository the site was built from."""
    problems = []
    url = page.url
    rel = urlsplit(url).path.lstrip("/")
    stem = Path(rel).stem
    notebook = Path(rel).parent / f"{stem}.ipynb"  # chapters/<id>.ipynb
    is_notebook = (Path(source) / notebook).is_file() or (Path(root) / "_sources" / notebook).is_file()
    colab = page.eval_on_selector_all('a[href*="colab.research.google.com"]', "l => l.map(a => a.href)")
    downloads = page.eval_on_selector_all(
        'a.btn-download-source-button, .dropdown-download-buttons a[href$=".ipynb"]',
        "l => l.map(a => a.href)")
    if is_notebook and not colab:
        problems.append("no Colab launch button")
    if is_notebook and not downloads:
        problems.append("no download (.ipynb) button")
    for link in set(colab):
        path = urlsplit(link).path
        if not path.endswith(f"/{notebook.as_posix()}"):
            problems.append(f"Colab button does not open {notebook}: {link}")
        elif not (Path(source) / notebook).is_file():
            problems.append(f"Colab button opens {notebook}, which is not in the repository")
    for link in set(downloads):
        target = unquote(urlsplit(link).path).lstrip("/")
        if is_notebook and target != f"_sources/{notebook.as_posix()}":
            problems.append(f"download button does not point at _sources/{notebook}: {link}")
        response = page.request.get(link)
        if not (Path(root) / target).is_file() or response.status != 200:
            problems.append(f"download button points at a missing file: {target} (HTTP {response.status})")
    return problems


def search(page, query):
    """Use the site's search box as a reader would; returns the result links (absolute urls)."""
    button = page.locator("button.search-button__button:visible").first
    if button.count():
        button.click()
    else:
        page.keyboard.press("Control+K")
    box = page.locator('#pst-search-dialog input[name="q"], form.bd-search input[name="q"]')
    box = box.locator("visible=true").first
    box.fill(query)
    with page.expect_navigation(timeout=10000):
        box.press("Enter")
    page.wait_for_function(
        """() => document.querySelector('ul.search li a')
                 || /found|did not match/i.test((document.querySelector('#search-results') || {}).textContent || '')""",
        timeout=20000)
    return page.eval_on_selector_all("ul.search li a", "l => l.map(a => a.href)")


def screenshot(page, rel, folder=SCREENSHOTS):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (rel.replace("/", "__").removesuffix(".html") + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def clear_screenshots(folder=SCREENSHOTS):
    folder = Path(folder)
    if folder.is_dir():
        for png in folder.glob("*.png"):
            png.unlink()


CHECKS = {
    "title": check_title,
    "math": check_math,
    "images": check_images,
    "animations": check_animations,
    "leaks": check_leaks,
    "accessibility": check_accessibility,
}
START = "chapters/intro.html"


def inspect(page, log, rel, status, root, source, shots=SCREENSHOTS):
    """Run every checker on the open page `rel` and save its screenshot.

    Returns {check: [problems]} for CHECKS, 'buttons', 'errors', 'external', 'load' and
    'navigation', and the flags 'redirect' (False) and 'math_page' (formulas typeset on it)."""
    results = {name: [] for name in [*CHECKS, "buttons", "errors", "external", "load", "navigation"]}
    results["redirect"] = False
    if status != 200:
        results["load"].append(f"HTTP {status}")
    checks = dict(CHECKS)
    if rel.startswith("chapters/"):
        checks["buttons"] = functools.partial(check_buttons, root=root, source=source)
    for name, check in checks.items():
        try:
            results[name] += check(page)
        except Exception as error:
            results[name].append(f"checker failed: {str(error).splitlines()[0]}")
    results["math_page"] = has_math(page)
    if shots:
        screenshot(page, rel, shots)
    results["errors"] = log.problems()
    results["external"] = [f"needed {url}" for url in dict.fromkeys(log.external)]
    return results


def _click(page, link):
    """Click a navigation link; returns the HTTP status of the page it leads to (None: none)."""
    with page.expect_navigation(timeout=15000, wait_until="load") as navigation:
        link.click()
    response = navigation.value
    wait_for_mathjax(page)
    return response.status if response else None


def tour(context, base, root, source, shots=SCREENSHOTS):
    """Visit every page of the site once, as a reader does, and check each.

    From the landing page (START) the tour clicks each page's 'next' link (a.right-next) to
    reach the following one, checks that each page's 'previous' link (a.left-prev) names the
    page it came from, and at the end clicks 'previous' once. Pages the chain does not reach
    (search, index, a redirect) are opened directly. Returns ({page: results}, chain)."""
    results, chain = {}, []
    page = context.new_page()
    log = watch(page)
    response = page.goto(urljoin(base, START), wait_until="load")
    wait_for_mathjax(page)
    rel, status = START, (response.status if response else None)
    ended = False  # the chain reached a page without 'next'
    try:
        while True:
            results[rel] = found = inspect(page, log, rel, status, root, source, shots)
            chain.append(rel)
            back = page.locator("a.left-prev").first
            back_to = urljoin(page.url, back.get_attribute("href")) if back.count() else None
            if len(chain) > 1 and back_to != urljoin(base, chain[-2]):
                found["navigation"].append(f"'previous' leads to {back_to}, not {chain[-2]}")
            if len(chain) == 1 and back_to:
                found["navigation"].append(f"the first page has a 'previous' link ({back_to})")
            forward = page.locator("a.right-next").first
            if not forward.count():
                ended = True
                break
            href = forward.get_attribute("href")
            log.errors.clear()
            log.external.clear()
            try:
                status = _click(page, forward)
            except Exception as error:
                found["navigation"].append(f"clicking 'next' ({href}) failed: {str(error).splitlines()[0]}")
                break
            rel = unquote(urlsplit(page.url).path).lstrip("/")
            if status != 200:
                found["navigation"].append(f"'next' ({href}) leads to a broken page (HTTP {status})")
                break
            if rel in results:
                found["navigation"].append(f"'next' ({href}) leads back to {rel}: a cycle")
                break
        if ended and len(chain) > 1:  # and one step back, by clicking
            last = results[chain[-1]]["navigation"]
            try:
                status = _click(page, page.locator("a.left-prev").first)
                if status != 200 or page.url != urljoin(base, chain[-2]):
                    last.append(f"clicking 'previous' led to {page.url} (HTTP {status}), not {chain[-2]}")
            except Exception as error:
                last.append(f"clicking 'previous' failed: {str(error).splitlines()[0]}")
    finally:
        page.close()
    for rel in html_pages(root):
        if rel not in results:
            results[rel] = visit(context, base, rel, root, source, shots)
    return results, chain


def visit(context, base, rel, root, source, shots=SCREENSHOTS):
    """Open one page directly and check it (see inspect); a <meta refresh> page must land on
    its target, which is checked on its own."""
    target = redirect_target(Path(root) / rel)
    lands_on = urljoin(urljoin(base, rel), target) if target else None
    page, log, status = open_page(context, urljoin(base, rel), lands_on)
    try:
        if not target:
            return inspect(page, log, rel, status, root, source, shots)
        results = {name: [] for name in [*CHECKS, "buttons", "errors", "external", "load", "navigation"]}
        results.update(redirect=True, math_page=False)
        if status != 200:
            results["load"].append(f"HTTP {status}")
        if page.url != lands_on:
            results["load"].append(f"redirect to {target} did not happen (at {page.url})")
        results["title"] += check_title(page)
        results["errors"] = log.problems()
        results["external"] = [f"needed {url}" for url in dict.fromkeys(log.external)]
        return results
    finally:
        page.close()


def copy_mathjax(static):
    """Put MathJax into a fake site's _static (a link when possible)."""
    target = Path(static) / "mathjax"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(mathjax_dir(), target_is_directory=True)
    except OSError:
        shutil.copytree(mathjax_dir(), target)
    return target
