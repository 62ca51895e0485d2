"""Printable PNG figures drawn with Pillow: the plan's map and the budget frontier.

Pillow imports in a tenth of the time matplotlib takes and draws these figures in a few
hundredths of a second, so a run's own overhead stays small. Figures are drawn at twice
their size and scaled down, which smooths edges. Chinese labels use the first CJK font found
among the system's font files (:func:`cjk_font_file`); without one they fall back to English.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

#: File names of fonts that render Chinese (Noto / Source Han, WenQuanYi, AR PL, SimHei, YaHei, PingFang).
CJK_FONT_FILES = ("NotoSansCJK", "NotoSansSC", "SourceHanSans", "NotoSerifCJK", "wqy-zenhei", "wqy-microhei",
                  "uming", "simhei", "msyh", "PingFang")
#: Folders searched for fonts (Linux, macOS, Windows).
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts", "/Library/Fonts",
             "/System/Library/Fonts", "~/Library/Fonts", "C:/Windows/Fonts")
#: Anchors of the red–yellow–green scale (ColorBrewer RdYlGn, 11 classes): 0 = red, 1 = green.
RDYLGN = ("#a50026", "#d73027", "#f46d43", "#fdae61", "#fee08b", "#ffffbf", "#d9ef8b", "#a6d96a", "#66bd63",
          "#1a9850", "#006837")
SCALE = 2  # drawn at twice the size, then scaled down (smooth edges)


@cache
def cjk_font_file() -> str | None:
    """Path of an installed font file that renders Chinese, or ``None`` (labels fall back to English).

    Regular sans-serif faces are preferred. ``SITING_CJK_FONT`` may name a file to use instead.
    """
    given = os.environ.get("SITING_CJK_FONT")
    if given and Path(given).is_file():
        return given
    found: list[str] = []
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            found += [os.path.join(dirpath, f) for f in files
                      if f.lower().endswith((".ttc", ".otf", ".ttf")) and any(k.lower() in f.lower()
                                                                               for k in CJK_FONT_FILES)]
    if not found:
        return None
    return sorted(found, key=lambda f: ("Regular" not in f, "Sans" not in f, "Mono" in f, f))[0]


@cache
def latin_font_file() -> str | None:
    """A Latin sans-serif font file: DejaVu Sans (matplotlib's own copy, or the system's)."""
    spec = importlib.util.find_spec("matplotlib")
    roots = [Path(p) / "mpl-data" / "fonts" / "ttf" for p in (spec.submodule_search_locations or [])] if spec else []
    roots += [Path("/usr/share/fonts/truetype/dejavu")]
    for root in roots:
        if (root / "DejaVuSans.ttf").is_file():
            return str(root / "DejaVuSans.ttf")
    return None


@cache
def _face_index(path: str) -> int:
    """In a font collection (``.ttc``), the face for Simplified Chinese (Noto CJK: its ``SC`` face), else 0."""
    from PIL import ImageFont

    if not path.lower().endswith(".ttc"):
        return 0
    for index in range(12):
        try:
            family = str(ImageFont.truetype(path, 12, index=index).getname()[0] or "")
        except OSError:
            break
        if any(tag in family for tag in (" SC", " CN", " GB", "Simplified")):
            return index
    return 0


@cache
def _font(size: int, cjk: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    path = cjk_font_file() if cjk else None
    path = path or latin_font_file()
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size, index=_face_index(path))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` as an (r, g, b) tuple."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def red_yellow_green(values: np.ndarray) -> np.ndarray:
    """Colours (n × 3, 0–255) of values in [0, 1] on the red–yellow–green scale."""
    anchors = np.array([hex_rgb(c) for c in RDYLGN], dtype=float)
    pos = np.clip(np.nan_to_num(np.asarray(values, dtype=float)), 0.0, 1.0) * (len(RDYLGN) - 1)
    lo = np.minimum(np.floor(pos).astype(int), len(RDYLGN) - 2)
    t = (pos - lo)[:, None]
    out: np.ndarray = np.rint(anchors[lo] * (1 - t) + anchors[lo + 1] * t).astype(int)
    return out


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2 or 5 × a power of ten)."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def tick_label(v: float) -> str:
    """A tick's value without trailing zeros."""
    return f"{v:,.10g}" if abs(v) >= 1 else f"{v:.4g}"


class Canvas:
    """A white figure with one plot area, data coordinates mapped to pixels.

    Parameters
    ----------
    width, height
        Size of the PNG in pixels.
    box
        The plot area's (left, top, right, bottom) margins in pixels.
    cjk
        Whether text may contain Chinese (a CJK font is used; callers check :func:`cjk_font_file`).
    """

    def __init__(self, width: int, height: int, box: tuple[int, int, int, int], *, cjk: bool) -> None:
        from PIL import Image, ImageDraw

        self.size = (width, height)
        self.image: Image.Image = Image.new("RGBA", (width * SCALE, height * SCALE), "white")
        self.draw: ImageDraw.ImageDraw = ImageDraw.Draw(self.image)
        self.cjk = cjk
        left, top, right, bottom = box
        self.area = (left, top, width - right, height - bottom)
        self.x0, self.x1, self.y0, self.y1 = 0.0, 1.0, 0.0, 1.0

    # -- coordinates ----------------------------------------------------------------------------
    def limits(self, x: tuple[float, float], y: tuple[float, float], *, equal: bool = False) -> None:
        """Data limits of the plot area; ``equal`` widens one axis so that a metre is a metre both ways."""
        (x0, x1), (y0, y1) = x, y
        if x1 <= x0:
            x0, x1 = x0 - 1.0, x1 + 1.0
        if y1 <= y0:
            y0, y1 = y0 - 1.0, y1 + 1.0
        if equal:
            left, top, right, bottom = self.area
            per_px = max((x1 - x0) / (right - left), (y1 - y0) / (bottom - top))
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            x0, x1 = cx - per_px * (right - left) / 2, cx + per_px * (right - left) / 2
            y0, y1 = cy - per_px * (bottom - top) / 2, cy + per_px * (bottom - top) / 2
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1

    def px(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (at the drawing scale) of data coordinates."""
        left, top, right, bottom = self.area
        u = left + (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0) * (right - left)
        v = bottom - (np.asarray(y, dtype=float) - self.y0) / (self.y1 - self.y0) * (bottom - top)
        return u * SCALE, v * SCALE

    def point(self, x: float, y: float) -> tuple[float, float]:
        """Pixel coordinates (at the drawing scale) of one data point."""
        u, v = self.px(x, y)
        return float(u), float(v)

    # -- text -------------------------------------------------------------------------------------
    def font(self, size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        """The figure's font at ``size`` pixels (before scaling)."""
        return _font(round(size * SCALE), self.cjk)

    def text(self, xy: tuple[float, float], text: str, *, size: float = 11, fill: str = "#222",
             anchor: str = "la", halo: bool = False) -> None:
        """Text at pixel ``xy`` (before scaling); ``anchor`` as in Pillow (``la``: left, ascender).

        ``halo``: a white outline, so that a label stays readable over the marks beneath it.
        """
        self.draw.text((xy[0] * SCALE, xy[1] * SCALE), text, font=self.font(size), fill=fill, anchor=anchor,
                       stroke_width=SCALE if halo else 0, stroke_fill="white")

    def text_width(self, text: str, size: float) -> float:
        """Width of ``text`` in pixels (before scaling)."""
        return float(self.draw.textlength(text, font=self.font(size))) / SCALE

    def vertical_text(self, xy: tuple[float, float], text: str, *, size: float = 11) -> None:
        """Text turned a quarter left, centred on pixel ``xy`` (an axis label)."""
        from PIL import Image, ImageDraw

        font = self.font(size)
        w = int(self.draw.textlength(text, font=font)) + 4
        h = int(size * SCALE * 1.4)
        strip = Image.new("RGBA", (w, h), (255, 255, 255, 0))
        ImageDraw.Draw(strip).text((2, h // 2), text, font=font, fill="#222", anchor="lm")
        strip = strip.rotate(90, expand=True)
        self.image.alpha_composite(strip, (int(xy[0] * SCALE - strip.width / 2), int(xy[1] * SCALE - strip.height / 2)))

    def overlay(self, layer: Image.Image) -> None:
        """Lay a translucent layer of the figure's size over it.

        Only the part of the layer that is not fully transparent is composited: a fully
        transparent pixel leaves the one beneath unchanged, so the result is the same as
        compositing the whole layer, in a fraction of the time.
        """
        box = layer.getbbox(alpha_only=True)
        if box is not None:
            self.image.alpha_composite(layer, dest=box[:2], source=box)

    # -- axes -------------------------------------------------------------------------------------
    def axes(self, *, x_label: str, y_label: str, title: str, grid: bool = False,
             y_format: str = "{:,.10g}") -> None:
        """Frame, ticks with their values, axis labels and the title."""
        left, top, right, bottom = self.area
        d = self.draw
        for x in nice_ticks(self.x0, self.x1):
            u, _ = self.point(x, self.y0)
            if grid:
                d.line([(u, top * SCALE), (u, bottom * SCALE)], fill="#e6e6e6", width=SCALE)
            d.line([(u, bottom * SCALE), (u, (bottom + 4) * SCALE)], fill="#444", width=SCALE)
            self.text((u / SCALE, bottom + 6), tick_label(x), size=9, anchor="ma")
        for y in nice_ticks(self.y0, self.y1):
            _, v = self.point(self.x0, y)
            if grid:
                d.line([(left * SCALE, v), (right * SCALE, v)], fill="#e6e6e6", width=SCALE)
            d.line([((left - 4) * SCALE, v), (left * SCALE, v)], fill="#444", width=SCALE)
            self.text((left - 6, v / SCALE), y_format.format(y), size=9, anchor="rm")
        d.rectangle([left * SCALE, top * SCALE, right * SCALE, bottom * SCALE], outline="#444", width=SCALE)
        self.text(((left + right) / 2, bottom + 24), x_label, size=10.5, anchor="ma")
        self.vertical_text((left - 52, (top + bottom) / 2), y_label, size=10.5)
        size = 12.5  # the title shrinks to fit the figure's width
        while size > 8 and self.text_width(title, size) > self.size[0] - 16:
            size -= 0.5
        self.text((self.size[0] / 2, top - 12), title, size=size, anchor="md")

    # -- marks ------------------------------------------------------------------------------------
    def dots(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray, colours: np.ndarray, *, alpha: float) -> None:
        """Filled circles (radius in pixels before scaling), drawn translucent over what is there."""
        from PIL import Image, ImageDraw

        layer = Image.new("RGBA", self.image.size, (255, 255, 255, 0))
        d = ImageDraw.Draw(layer)
        u, v = self.px(x, y)
        r = np.asarray(radius, dtype=float) * SCALE
        a = round(255 * alpha)
        for ui, vi, ri, (cr, cg, cb) in zip(u.tolist(), v.tolist(), r.tolist(), colours.tolist(), strict=True):
            d.ellipse([ui - ri, vi - ri, ui + ri, vi + ri], fill=(cr, cg, cb, a))
        self.overlay(layer)

    def marker(self, kind: str, u: float, v: float, size: float, *, fill: str | None, outline: str | None,
               width: float = 1.0) -> None:
        """One marker at pixel (u, v) at the drawing scale: ``square``, ``star``, ``triangle`` or ``circle``."""
        s = size * SCALE
        w = max(1, round(width * SCALE))
        d = self.draw
        if kind == "square":
            d.rectangle([u - s, v - s, u + s, v + s], fill=fill, outline=outline, width=w)
        elif kind == "circle":
            d.ellipse([u - s, v - s, u + s, v + s], fill=fill, outline=outline, width=w)
        elif kind == "triangle":
            d.polygon([(u, v - s), (u - 0.87 * s, v + 0.5 * s), (u + 0.87 * s, v + 0.5 * s)], fill=fill,
                      outline=outline, width=w)
        elif kind == "star":
            pts = [(u + (s if i % 2 == 0 else 0.42 * s) * math.sin(i * math.pi / 5),
                    v - (s if i % 2 == 0 else 0.42 * s) * math.cos(i * math.pi / 5)) for i in range(10)]
            d.polygon(pts, fill=fill, outline=outline, width=w)
        else:
            raise ValueError(f"unknown marker {kind!r}")

    def markers(self, kind: str, x: np.ndarray, y: np.ndarray, size: float, *, fill: str | None,
                outline: str | None, width: float = 1.0) -> None:
        """Markers at data coordinates."""
        u, v = self.px(x, y)
        for ui, vi in zip(np.atleast_1d(u).tolist(), np.atleast_1d(v).tolist(), strict=True):
            self.marker(kind, ui, vi, size, fill=fill, outline=outline, width=width)

    def line(self, x: Sequence[float], y: Sequence[float], *, colour: str, width: float = 2.0,
             dashed: bool = False) -> None:
        """A polyline through data points (dashed: short strokes)."""
        u, v = self.px(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        pts = list(zip(u.tolist(), v.tolist(), strict=True))
        w = max(1, round(width * SCALE))
        if not dashed:
            self.draw.line(pts, fill=colour, width=w, joint="curve")
            return
        for (ua, va), (ub, vb) in itertools.pairwise(pts):
            n = max(1, int(math.hypot(ub - ua, vb - va) / (6 * SCALE)))
            for k in range(0, n, 2):
                t0, t1 = k / n, min(k + 1, n) / n
                self.draw.line([(ua + (ub - ua) * t0, va + (vb - va) * t0), (ua + (ub - ua) * t1, va + (vb - va) * t1)],
                               fill=colour, width=w)

    def legend(self, entries: Sequence[tuple[str, str, str | None, str | None]], *, corner: str) -> None:
        """A boxed legend: (marker kind, label, fill, outline) per entry, in the ``lower left`` / ``lower right``."""
        from PIL import Image, ImageDraw

        left, _top, right, bottom = self.area
        size = 9.0
        row = 16.0
        width = 30 + max(self.text_width(label, size) for _k, label, _f, _o in entries)
        height = 8 + row * len(entries)
        x = left + 8 if corner == "lower left" else right - 8 - width
        y = bottom - 8 - height
        box = Image.new("RGBA", self.image.size, (255, 255, 255, 0))
        ImageDraw.Draw(box).rounded_rectangle([x * SCALE, y * SCALE, (x + width) * SCALE, (y + height) * SCALE],
                                              radius=4 * SCALE, fill=(255, 255, 255, 217), outline="#ccc",
                                              width=SCALE)
        self.overlay(box)
        for i, (kind, label, fill, outline) in enumerate(entries):
            cy = y + 4 + row * i + row / 2
            if kind == "line":
                self.draw.line([((x + 6) * SCALE, cy * SCALE), ((x + 22) * SCALE, cy * SCALE)], fill=fill,
                               width=2 * SCALE)
            else:
                self.marker(kind, (x + 14) * SCALE, cy * SCALE, 7 if kind == "star" else 5, fill=fill, outline=outline)
            self.text((x + 26, cy), label, size=size, anchor="lm")

    def colour_bar(self, label: str) -> None:
        """The red–yellow–green scale from 0 to 1 at the plot's right, with its label."""
        _left, top, right, bottom = self.area
        x0, x1 = right + 18, right + 32
        y0 = top + (bottom - top) * 0.15
        y1 = bottom - (bottom - top) * 0.15
        steps = int((y1 - y0) * SCALE)
        colours = red_yellow_green(np.linspace(1.0, 0.0, steps))
        for i, (r, g, b) in enumerate(colours.tolist()):
            yy = y0 * SCALE + i
            self.draw.line([(x0 * SCALE, yy), (x1 * SCALE, yy)], fill=(r, g, b))
        self.draw.rectangle([x0 * SCALE, y0 * SCALE, x1 * SCALE, y1 * SCALE], outline="#444", width=SCALE)
        for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
            yy = y1 - t * (y1 - y0)
            self.draw.line([(x1 * SCALE, yy * SCALE), ((x1 + 4) * SCALE, yy * SCALE)], fill="#444", width=SCALE)
            self.text((x1 + 6, yy), f"{t:.1f}", size=9, anchor="lm")
        self.vertical_text((x1 + 40, (y0 + y1) / 2), label, size=10)

    def save(self, path: Path) -> None:
        """Scale down and write the PNG."""
        from PIL import Image

        big = self.image.convert("RGB")
        if big.size == (self.size[0] * SCALE, self.size[1] * SCALE):  # each pixel the mean of its SCALE × SCALE block
            small = big.reduce(SCALE)  # 3 ms for the default map instead of 45 ms for Lanczos, the same picture
        else:
            small = big.resize(self.size, Image.Resampling.LANCZOS)
        small.save(path, optimize=False, compress_level=3)  # zlib level 3: faster than 6, and smaller here


__all__ = ["Canvas", "cjk_font_file", "latin_font_file", "nice_ticks", "red_yellow_green"]
