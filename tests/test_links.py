"""Zero broken internal links or anchors anywhere in the built site.

A crawl of the html files (no browser): every href/src that stays inside the site (and the
url of a <meta http-equiv="refresh">) must name a file of the build, and a #fragment must be
an id (or <a name>) of the page it points at.
"""
import html.parser
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from browser import html_pages, redirect_target
from browser import site_root  # noqa: F401  (fixture: conftest's `site` or $COURSE_SITE)

pytestmark = pytest.mark.slow

LINK_ATTRIBUTES = {"href", "src", "poster", "data"}


class _Page(html.parser.HTMLParser):
    """The links and the anchor ids of one html file."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for name in LINK_ATTRIBUTES & attrs.keys():
            if attrs[name] is not None:
                self.links.append((tag, name, attrs[name].strip()))
        if attrs.get("srcset"):
            for candidate in attrs["srcset"].split(","):
                if candidate.strip():
                    self.links.append((tag, "srcset", candidate.split()[0]))

    handle_startendtag = handle_starttag


def parse(path):
    page = _Page()
    page.feed(Path(path).read_text(errors="replace"))
    page.close()
    return page


def is_external(url):
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc) or url.startswith("//")


def broken_links(root):
    """[(page, link, why)] for every internal link of the site at `root` that leads nowhere."""
    root = Path(root).resolve()
    pages = {}

    def anchors(target):
        if target not in pages:
            pages[target] = parse(root / target).ids
        return pages[target]

    broken = []
    for rel in html_pages(root):
        page = parse(root / rel)
        pages[rel] = page.ids
        links = [(tag, attr, url) for tag, attr, url in page.links]
        if (refresh := redirect_target(root / rel)) is not None:
            links.append(("meta", "refresh", refresh))
        for tag, attr, url in links:
            if not url or is_external(url):
                continue
            parts = urlsplit(url)
            path, fragment = unquote(parts.path), unquote(parts.fragment)
            if path:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), path))
                if target.startswith("../") or target == "..":
                    broken.append((rel, url, "points outside the site"))
                    continue
                if (root / target).is_dir():
                    target = posixpath.join(target, "index.html")
                if not (root / target).is_file():
                    broken.append((rel, url, f"{target} does not exist"))
                    continue
            else:
                target = rel
            if fragment and target.endswith(".html") and fragment not in anchors(target):
                broken.append((rel, url, f"no id '{fragment}' in {target}"))
    return broken


def test_site_has_no_broken_internal_link(site_root):
    pages = html_pages(site_root)
    assert len(pages) >= 3, f"too few pages in {site_root}: {pages}"
    broken = broken_links(site_root)
    assert not broken, "broken links:\n" + "\n".join(f"{p}: {u} ({why})" for p, u, why in broken)


# --- the crawl catches planted faults ----------------------------------------------------

def write(root, rel, body):
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")


@pytest.fixture
def fake_site(tmp_path):
    write(tmp_path, "index.html", '<meta http-equiv="Refresh" content="0; url=chapters/intro.html" />')
    write(tmp_path, "chapters/intro.html",
          '<h1 id="top">Intro</h1><a href="#top">up</a><a href="next%20page.html#part-2">next</a>'
          '<a href="https://example.org/x#y">out</a><a href="mailto:a@b.c">mail</a>'
          '<link rel="stylesheet" href="../_static/site.css?v=1"><img src="../_images/fig.png">'
          '<a href="../_sources/chapters/intro.ipynb">download</a><a href="../">home</a>')
    write(tmp_path, "chapters/next page.html", '<section id="part-2"><a name="legacy"></a></section>')
    write(tmp_path, "_static/webpack-macros.html", '<a href="{{ pathto(x) }}">template</a>')
    for asset in ["_static/site.css", "_images/fig.png", "_sources/chapters/intro.ipynb"]:
        (tmp_path / asset).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / asset).write_text("x")
    return tmp_path


def test_clean_fake_site_has_no_broken_link(fake_site):
    assert broken_links(fake_site) == []


@pytest.mark.parametrize("body, why", [
    ('<a href="missing.html">x</a>', "chapters/missing.html does not exist"),
    ('<a href="intro.html#nowhere">x</a>', "no id 'nowhere' in chapters/intro.html"),
    ('<a href="#nowhere">x</a>', "no id 'nowhere' in chapters/broken.html"),
    ('<img src="../_images/removed.png">', "_images/removed.png does not exist"),
    ('<script src="../_static/gone.js?v=2"></script>', "_static/gone.js does not exist"),
    ('<a href="../../elsewhere.html">x</a>', "points outside the site"),
    ('<a href="next%20page.html#legacy-not">x</a>', "no id 'legacy-not' in chapters/next page.html"),
])
def test_crawl_catches_a_planted_broken_link(fake_site, body, why):
    write(fake_site, "chapters/broken.html", body)
    found = broken_links(fake_site)
    assert [(page, reason) for page, _, reason in found] == [("chapters/broken.html", why)]


def test_crawl_catches_a_redirect_to_nowhere(fake_site):
    (fake_site / "chapters" / "intro.html").rename(fake_site / "chapters" / "moved.html")
    found = broken_links(fake_site)
    assert ("index.html", "chapters/intro.html", "chapters/intro.html does not exist") in found
