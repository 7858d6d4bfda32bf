"""Sphinx extension: fixes of the built pages (Sphinx 7.4, sphinx-thebe 0.3.1, matplotlib
to_jshtml, MyST-NB 1.x). Enabled in _config.yml."""
import re

# matplotlib's to_jshtml() output links Font Awesome 4 from a CDN; the theme already ships
# Font Awesome, so the link only makes the page reach the internet.
CDN_FONT_AWESOME = re.compile(r'<link\s+rel="stylesheet"\s+href="https://maxcdn\.bootstrapcdn\.com/font-awesome/[^"]*"\s*/?>')

# For screen readers (the axe-core audit of tests/test_browser.py): to_jshtml's frame <img> has no
# alt text and its frame slider no label (axe image-alt and label, both critical); MyST-NB names
# a hidden cell's <summary> "Toggle hidden content", which its visible text "Show code cell
# source" does not contain (label-content-name-mismatch, serious): the visible text names it.
ANIMATION_FRAME = re.compile(r'<img id="(_anim_img[0-9a-f]+)">')
ANIMATION_SLIDER = re.compile(r'<input id="(_anim_slider[0-9a-f]+)" type="range"')
HIDDEN_CELL_SUMMARY = '<summary aria-label="Toggle hidden content">'


def accessible(body):
    """The page body with the markup above given names (what axe asks for)."""
    body = ANIMATION_FRAME.sub(r'<img id="\1" alt="Animation: one frame at a time, chosen with the controls below">', body)
    body = ANIMATION_SLIDER.sub(r'<input id="\1" type="range" aria-label="Animation frame"', body)
    return body.replace(HIDDEN_CELL_SUMMARY, "<summary>")


def _fix_page(app, pagename, templatename, context, doctree):
    # Inline scripts registered after the builder started (sphinx-thebe's `const THEBE_JS_URL`)
    # are emitted twice by Sphinx 7.4; the second `const` throws a SyntaxError on every page.
    scripts = context.get("script_files")
    if scripts:
        seen, unique = set(), []
        for script in scripts:
            key = (script.filename or "", tuple(sorted(script.attributes.items())))
            if key not in seen:
                seen.add(key)
                unique.append(script)
        scripts[:] = unique
    if "body" in context:
        context["body"] = accessible(CDN_FONT_AWESOME.sub("", context["body"]))


def setup(app):
    app.connect("html-page-context", _fix_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
