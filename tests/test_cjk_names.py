"""Chinese names are drawn in the figures (Noto Sans CJK as matplotlib's fallback font)."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import font_manager

from sim.report import fonts

NAME = "限时秒杀"
needs_font = pytest.mark.skipif(
    fonts.cjk_family() is None,
    reason="no CJK font installed (Debian fonts-noto-cjk; .ci/run installs it)")


def _ink(text: str, family: list[str]) -> np.ndarray:
    """The text drawn alone at 40 pt, as a greyscale pixel array (True = ink)."""
    with plt.rc_context({"font.family": family}):
        fig = plt.figure(figsize=(4, 1), dpi=100)
        fig.text(0.02, 0.2, text, fontsize=40)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="rgba")
        plt.close(fig)
    width, height = fig.canvas.get_width_height()
    pixels = np.frombuffer(buffer.getvalue(), np.uint8).reshape(height, width, 4)
    return pixels[..., :3].mean(axis=2) < 128


@needs_font
def test_the_font_lookup_finds_a_cjk_font_holding_every_character():
    family = fonts.cjk_family()
    path = font_manager.findfont(font_manager.FontProperties(family=family),
                                 fallback_to_default=False)
    font = matplotlib.ft2font.FT2Font(path)
    assert all(font.get_char_index(ord(ch)) for ch in NAME), f"{path} lacks a glyph"
    assert fonts.font_family() == ["DejaVu Sans", family]
    assert fonts.drawable(f"618 {NAME} earbuds") == f"618 {NAME} earbuds"


@needs_font
def test_a_chinese_only_name_is_drawn_as_glyphs_not_missing_glyph_boxes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DejaVu alone warns about the glyphs it lacks
        boxes = _ink(NAME, ["DejaVu Sans"])
    drawn = _ink(NAME, fonts.font_family())  # pytest turns a missing-glyph warning into an error
    assert drawn.sum() > 0
    assert not np.array_equal(drawn, boxes)
    columns = np.flatnonzero(drawn.any(axis=0))
    cells = np.array_split(drawn[:, columns[0]:columns[-1] + 1], len(NAME), axis=1)
    assert len({int(cell.sum()) for cell in cells}) == len(NAME), \
        "four different characters, four different glyphs (boxes would all look alike)"


def test_without_a_cjk_font_names_keep_their_latin_part(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    assert fonts.drawable(f"618 {NAME} earbuds") == "618 earbuds"
    assert fonts.drawable(f"hot deal ({NAME})") == "hot deal"
    assert fonts.drawable(NAME) == "flash sale"
    assert fonts.drawable("night") == "night"
