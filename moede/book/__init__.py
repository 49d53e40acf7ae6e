"""The book: run the Jupytext notebooks headlessly with papermill, build the jupyter-book site, check it in Chromium.

Heavy dependencies (papermill, jupytext, jupyter-book) are imported inside the functions that need them.
"""

from moede.book.chapters import CHAPTERS, Chapter, chapter_names, select_chapters

__all__ = ["CHAPTERS", "Chapter", "chapter_names", "select_chapters"]
