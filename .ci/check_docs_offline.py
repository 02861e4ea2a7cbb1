"""Check that the built documentation needs no network to show its formulas.

Usage: ``python .ci/check_docs_offline.py docs/_build/html``.

Statically, every page: no script, stylesheet or font loaded from another
host, and MathJax loaded from the site's own ``_static/mathjax``, which must
hold it.  Where a headless Chromium is installed, pages with formulas are also
opened with all network blocked (a proxy that nothing listens on): MathJax
must have typeset their formulas (``mjx-container`` elements, no ``\\(`` left
in the text).
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

# src/href of the elements that load something when a page is shown
_LOADS = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)=[\"']([^\"']+)[\"']", re.I
)
_MATHJAX = re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']*mathjax[^\"']*)[\"']", re.I)
# pages opened in the browser: the ones with the most formulas
_BROWSER_PAGES = ["user_guide/objective.html", "user_guide/metrics.html"]


def remote(url):
    return url.startswith(("http://", "https://", "//"))


def check_static(root):
    problems, math_pages = [], []
    for page in sorted(root.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        for url in _LOADS.findall(text):
            # <link rel="canonical"/"prev"/"next"> and <a> are not loads
            if remote(url) and not re.search(
                rf"<link\b[^>]*rel=[\"'](?:canonical|prev|next|search|index)"
                rf"[\"'][^>]*{re.escape(url)}",
                text,
            ):
                problems.append(f"{page.relative_to(root)} loads {url}")
        for src in _MATHJAX.findall(text):
            target = (page.parent / src.split("?")[0]).resolve()
            if remote(src) or not target.is_file():
                problems.append(f"{page.relative_to(root)}: MathJax from {src}")
            else:
                math_pages.append(page)
    if not math_pages:
        problems.append("no page loads MathJax from the site itself")
    fonts = root / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    if not any(fonts.glob("*.woff")):
        problems.append(f"MathJax's fonts are missing from {fonts}")
    return problems, len(math_pages)


def check_browser(root):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("check_docs_offline: no headless Chromium here; static check only")
        return []
    problems = []
    for name in _BROWSER_PAGES:
        page = root / name
        dom = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--proxy-server=127.0.0.1:9",  # no network at all
                "--virtual-time-budget=20000",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        typeset = dom.count("<mjx-container")
        left = dom.count("\\(") + dom.count("\\[")
        print(f"check_docs_offline: {name}: {typeset} formulas typeset offline")
        if typeset == 0 or left:
            problems.append(f"{name}: {typeset} typeset, {left} raw TeX left")
    return problems


def main(root):
    root = Path(root)
    problems, n_math = check_static(root)
    print(f"check_docs_offline: {n_math} pages load MathJax from the site itself")
    problems += check_browser(root)
    for problem in problems:
        print("check_docs_offline:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html"))
