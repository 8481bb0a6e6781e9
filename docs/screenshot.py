"""Opens built pages of the documentation site in headless Chromium, saves screenshots and
checks what a reader sees: the math is typeset by MathJax, and every image loads.

Usage (after building the site, e.g. by ``tests/test_docs.py``)::

    python docs/screenshot.py [--html docs/_build/html] [--out docs/screenshots] [PAGE ...]

PAGE defaults to the front page and the bound-tightness tutorial. Needs Debian's
``chromium`` (``apt-get install chromium``). For each page: a screenshot ``<page>.png`` (after
a virtual-time budget that lets MathJax finish), the DOM after scripts ran
(``--dump-dom``), in which MathJax's output elements (``mjx-container``) must stand for every
math element of the page and no raw TeX delimiter may be left; and every ``<img>`` of the DOM
must name a file of the build that is a readable PNG, JPEG, GIF or SVG. Exits 1 with one line
per failed check.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_PAGES = ("index.html", "tutorials/bound_tightness.html")
MAGIC = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif", b"<svg": "svg", b"<?xm": "svg"}


class _Page(HTMLParser):
    """Collects ``<img src>``, MathJax output containers and the page's math elements."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.mathjax = 0
        self.math = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "img" and attr.get("src"):
            self.images.append(attr["src"] or "")
        if tag == "mjx-container":
            self.mathjax += 1
        classes = (attr.get("class") or "").split()
        if tag in ("span", "div") and "math" in classes:
            self.math += 1


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("headless Chromium not found: apt-get install chromium")


def run_chromium(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=20000",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run as root inside its sandbox
    return subprocess.run(
        [chromium(), *flags, *args], capture_output=True, text=True, timeout=timeout
    )


def check_page(html_root: Path, page: str, out: Path) -> list[str]:
    """Screenshot and checks of one page; returns the failures."""
    path = (html_root / page).resolve()
    if not path.is_file():
        return [f"{page}: not built ({path})"]
    url = path.as_uri()
    shot = out / (page.replace("/", "_").removesuffix(".html") + ".png")
    run_chromium([f"--screenshot={shot}", "--window-size=1280,1800", url])
    failures = []
    if not shot.is_file() or shot.stat().st_size < 10_000:
        failures.append(f"{page}: no screenshot ({shot})")
    dom = run_chromium(["--dump-dom", url]).stdout
    (out / (shot.stem + ".dom.html")).write_text(dom)
    parsed = _Page()
    parsed.feed(dom)
    if parsed.math == 0:
        failures.append(f"{page}: no math element on the page (expected some)")
    elif parsed.mathjax < parsed.math:
        failures.append(f"{page}: MathJax typeset {parsed.mathjax} of {parsed.math} math elements")
    body = re.sub(r"<head\b.*?</head>", "", dom, flags=re.S)  # the <title> keeps its TeX
    body = re.sub(r"<(script|pre|code)\b.*?</\1>", "", body, flags=re.S)
    if re.search(r"\\\(|\\\[|\$\$", body):
        failures.append(f"{page}: raw TeX delimiters left in the rendered page")
    for src in parsed.images:
        parts = urlparse(src)
        if parts.scheme in ("http", "https"):
            failures.append(f"{page}: image from the web (the site must work offline): {src}")
            continue
        if parts.scheme == "data":
            continue
        target = (path.parent / unquote(parts.path)).resolve()
        if not target.is_file() or target.stat().st_size == 0:
            failures.append(f"{page}: broken image {src}")
            continue
        head = target.read_bytes()[:4]
        if not any(head.startswith(m) for m in MAGIC):
            failures.append(f"{page}: {src} is not a PNG, JPEG, GIF or SVG image")
    print(
        f"{page}: screenshot {shot.name}, {parsed.mathjax} MathJax elements for {parsed.math} "
        f"math elements, {len(parsed.images)} images"
    )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("pages", nargs="*", default=list(DEFAULT_PAGES))
    parser.add_argument("--html", type=Path, default=here / "_build" / "html")
    parser.add_argument("--out", type=Path, default=here / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    failures = [f for page in args.pages for f in check_page(args.html, page, args.out)]
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
