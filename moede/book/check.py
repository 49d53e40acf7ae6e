"""Check the built site in a real browser: headless Chromium renders each page; its tables and figures must be there.

For every page of the last build the rendered DOM (`chromium --dump-dom`) must hold at least the chapter's expected
number of <table> and <img> elements, each image file must exist, be non-empty and be a real PNG/JPEG/SVG, and no
error output (a Python traceback, papermill's exception marker) may appear. A chapter with exercises must render
them, a student build (moede book --student) no solution, and every chapter the phrases of its `says` (its intervals
and power statements). A screenshot of each page is saved.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

from moede.book.chapters import BUILD_DIR, CHAPTERS
from moede.book.site import site_record
from moede.book.student import EXERCISE_TAG, SOLUTION_TAG

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
ERROR_MARKERS = ("Traceback (most recent call last)", "An Exception was encountered at")
ERROR_CLASSES = ("traceback", "output error")
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"<svg", b"<?xml", b"GIF8")
# The least tables/images of the non-notebook pages.
PAGE_EXPECTATIONS = {"book/intro.html": (1, 1), "book/map.html": (4, 0), "book/open_choices.html": (1, 0),
                     "book/teaching.html": (1, 0), "book/references.html": (0, 0)}


def find_chromium() -> str | None:
    """Return the path of a Chromium executable, or None when none is installed."""
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _PageParser(HTMLParser):
    """Collect <table>s, <img> sources and error-output classes of a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables = 0
        self.images: list[str] = []
        self.error_classes: list[str] = []
        self.tagged: dict[str, int] = {}  # cells per tag (myst-nb writes a cell's tags as tag_<name> classes)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table":
            self.tables += 1
        if tag == "img" and values.get("src"):
            self.images.append(values["src"] or "")
        classes = values.get("class") or ""
        self.error_classes += [c for c in ERROR_CLASSES if c in classes]
        for name in classes.split():
            if name.startswith("tag_"):
                self.tagged[name[4:]] = self.tagged.get(name[4:], 0) + 1


@dataclass
class PageReport:
    """What one page showed in Chromium and what is wrong with it."""

    page: str
    tables: int = 0
    images: int = 0
    screenshot: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def _chromium(chromium: str, profile: Path, *args: str, timeout: int = 90) -> subprocess.CompletedProcess:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _image_problem(src: str, page_file: Path) -> str | None:
    parsed = urlparse(src)
    if parsed.scheme == "data":
        return None if len(src) > 100 else f"empty inline image {src[:40]}"
    if parsed.scheme in ("http", "https"):
        return f"remote image {src} (the book must work offline)"
    path = (page_file.parent / unquote(parsed.path)).resolve() if parsed.scheme != "file" else Path(parsed.path)
    if not path.is_file():
        return f"image {src} does not exist"
    head = path.read_bytes()[:64]
    if not head:
        return f"image {src} is empty"
    if not head.lstrip().startswith(IMAGE_MAGIC):
        return f"image {src} is not a PNG/JPEG/SVG/GIF"
    return None


def check_page(html_dir: Path, page: str, chromium: str, shots: Path, profile: Path,
               expect: tuple[int, int] = (0, 0), exercises: int = 0, student: bool = False,
               says: tuple[str, ...] = ()) -> PageReport:
    """Render one page in Chromium, save a screenshot, and report missing tables/figures/exercises/phrases (`says`),
    error outputs and, on a `student` page, any solution."""
    page_file = html_dir / page
    report = PageReport(page)
    url = page_file.resolve().as_uri()
    dom = _chromium(chromium, profile, "--dump-dom", url)
    if dom.returncode != 0 or "<html" not in dom.stdout:
        report.problems.append(f"Chromium could not render the page (exit {dom.returncode}): {dom.stderr[-300:]}")
        return report
    parser = _PageParser()
    parser.feed(dom.stdout)
    report.tables, report.images = parser.tables, len(parser.images)
    if report.tables < expect[0]:
        report.problems.append(f"{report.tables} table(s) rendered, expected at least {expect[0]}")
    if report.images < expect[1]:
        report.problems.append(f"{report.images} image(s) rendered, expected at least {expect[1]}")
    report.problems += [p for p in (_image_problem(src, page_file) for src in parser.images) if p]
    if parser.tagged.get(EXERCISE_TAG, 0) < exercises:
        report.problems.append(f"{parser.tagged.get(EXERCISE_TAG, 0)} exercise(s) rendered, expected {exercises}")
    if student and parser.tagged.get(SOLUTION_TAG, 0):
        report.problems.append(f"{parser.tagged[SOLUTION_TAG]} solution(s) shown on a student page")
    report.problems += [f"the page does not say {phrase!r}" for phrase in says if phrase not in dom.stdout]
    markers = [m for m in ERROR_MARKERS if m in dom.stdout] + sorted(set(parser.error_classes))
    if markers:
        report.problems.append(f"error output on the page: {', '.join(markers)}")
    shot = shots / (page.replace("/", "__").removesuffix(".html") + ".png")
    shots.mkdir(parents=True, exist_ok=True)
    _chromium(chromium, profile, f"--screenshot={shot}", "--window-size=1280,2000", url)
    if not shot.is_file() or shot.stat().st_size == 0:
        report.problems.append("Chromium wrote no screenshot")
    report.screenshot = str(shot)
    return report


def check_redirect(html_dir: Path, page: str) -> PageReport | None:
    """jupyter-book's index.html only redirects to the root page: check its target exists (None if not a redirect)."""
    text = (html_dir / page).read_text(errors="replace")
    match = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', text, flags=re.IGNORECASE)
    if match is None or len(text) > 500:
        return None
    report = PageReport(page)
    if not (html_dir / page).parent.joinpath(match.group(1)).is_file():
        report.problems.append(f"redirects to {match.group(1)}, which does not exist")
    return report


def page_expectations() -> dict[str, tuple[int, int]]:
    """The least (tables, images) each page of the book must render."""
    expected = dict(PAGE_EXPECTATIONS)
    expected.update({f"notebooks/{c.name}.html": (c.tables, c.figures) for c in CHAPTERS})
    return expected


def check_site(build_dir: Path = BUILD_DIR, chromium: str | None = None,
               expectations: dict[str, tuple[int, int]] | None = None,
               phrases: dict[str, tuple[str, ...]] | None = None) -> list[PageReport]:
    """Check every page of the last built site in headless Chromium (`phrases`: what each page must say, by default
    each chapter's `says`); screenshots go to build_dir/check/."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("Chromium is not installed; on Debian/Ubuntu: apt-get install chromium")
    html_dir = Path(build_dir) / "html"
    record = site_record(build_dir)
    pages, student = record["pages"], record.get("student", False)
    exercises = {f"notebooks/{c.name}.html": c.exercises for c in CHAPTERS}
    phrases = {f"notebooks/{c.name}.html": c.says for c in CHAPTERS} if phrases is None else phrases
    expectations = page_expectations() if expectations is None else expectations
    missing = [p for p in expectations if p not in pages and p.startswith("notebooks/")]
    reports = [PageReport(p, problems=["page missing from the built site"]) for p in missing]
    with tempfile.TemporaryDirectory(prefix="moede-chromium-") as profile:
        for page in pages:
            redirect = check_redirect(html_dir, page)
            if redirect is not None:
                reports.append(redirect)
                continue
            reports.append(check_page(html_dir, page, chromium, Path(build_dir) / "check", Path(profile),
                                      expectations.get(page, (0, 0)), exercises.get(page, 0), student,
                                      phrases.get(page, ())))
    return reports
