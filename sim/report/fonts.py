"""Fonts for the figures: DejaVu Sans for Latin text, Noto Sans CJK for Chinese names.

Sales here are named in Chinese ("618 限时秒杀"), and DejaVu has no CJK glyphs. matplotlib (3.6+)
falls back along ``font.family`` glyph by glyph, so the figures ask for DejaVu Sans first and a
CJK font second. Debian's ``fonts-noto-cjk`` provides Noto Sans CJK; matplotlib's font cache
may predate its installation, so the system's CJK font files are added when the cache does not
list them. Without any CJK font, :func:`drawable` keeps the Latin part of a name and the
report says why (:data:`MISSING_NOTE`).
"""

from __future__ import annotations

import functools

from matplotlib import font_manager

LATIN = "DejaVu Sans"
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC",
                "WenQuanYi Zen Hei", "Droid Sans Fallback")
"""CJK families in order of preference (Noto Sans CJK first: Debian's fonts-noto-cjk)."""
MISSING_NOTE = ("No CJK font was found, so Chinese characters in names are left out of the "
                "figures (the tables keep them). Install Noto Sans CJK (Debian/Ubuntu: "
                "apt-get install fonts-noto-cjk) and run peakday report on this folder again.")
_CJK_START = 0x2E80
"""First code point of the CJK radicals block: characters from here on need a CJK font."""


def _known() -> set[str]:
    return {entry.name for entry in font_manager.fontManager.ttflist}


@functools.cache
def cjk_family() -> str | None:
    """The CJK font family matplotlib can draw with, or None when the system has none."""
    for family in CJK_FAMILIES:
        if family in _known():
            return family
    for path in font_manager.findSystemFonts():
        if "CJK" in path or "SourceHan" in path or "wqy" in path.lower():
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue  # an unreadable font file is skipped, the next one may do
    known = _known()
    return next((family for family in CJK_FAMILIES if family in known), None)


def font_family() -> list[str]:
    """``font.family`` for the figures: Latin first, then the CJK fallback when there is one."""
    family = cjk_family()
    return [LATIN, family] if family else [LATIN]


def needs_cjk(text: str) -> bool:
    return any(ord(ch) >= _CJK_START for ch in text)


def drawable(text: str, fallback: str = "flash sale") -> str:
    """``text`` as the figures can draw it: whole with a CJK font; otherwise its Latin part
    (``"hot deal (限时秒杀)"`` -> ``"hot deal"``), or ``fallback`` when nothing is left."""
    if cjk_family() or not needs_cjk(text):
        return text
    kept = "".join(ch for ch in text if ord(ch) < _CJK_START).replace("()", "")
    return " ".join(kept.split()) or fallback
