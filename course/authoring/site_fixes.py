"""Sphinx extension: two fixes of the built pages (Sphinx 7.4, sphinx-thebe 0.3.1, matplotlib
to_jshtml). Enabled in _config.yml."""
import re

# matplotlib's to_jshtml() output links Font Awesome 4 from a CDN; the theme already ships
# Font Awesome, so the link only makes the page reach the internet.
CDN_FONT_AWESOME = re.compile(r'<link\s+rel="stylesheet"\s+href="https://maxcdn\.bootstrapcdn\.com/font-awesome/[^"]*"\s*/?>')


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
        context["body"] = CDN_FONT_AWESOME.sub("", context["body"])


def setup(app):
    app.connect("html-page-context", _fix_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
