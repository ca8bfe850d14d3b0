"""A readable text/plain alternative generated from an HTML body."""

from __future__ import annotations

import html2text


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 78
    converter.ignore_images = True
    converter.unicode_snob = True
    converter.ignore_emphasis = True
    return str(converter.handle(html)).strip() + "\n"
