#!/usr/bin/env python3
"""Draws the app's PNG icons from the same shapes as static/icons/icon.svg (a feed symbol on
Alt's blue), for the web app manifest: 192 and 512 pixels with rounded corners, and a 512 pixel
maskable one (full bleed, the symbol inside the safe zone: the launcher crops it to its shape).

Needs Pillow (`pip install pillow`); the PNGs are committed, so run it only when the icon changes:
`python scripts/make-icons.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BLUE = "#1f5fbf"
WHITE = "#ffffff"
UNITS = 64  # the SVG's viewBox
SUPERSAMPLE = 4  # drawn larger, then reduced: smooth edges
ICONS = Path(__file__).resolve().parents[1] / "src" / "alt" / "frontend" / "static" / "icons"


def draw_symbol(draw: ImageDraw.ImageDraw, unit: float, scale: float, shift: float) -> None:
    """The feed symbol of icon.svg (two quarter rings around (12, 52) and a dot at (18, 46)),
    scaled by `scale` around the centre of its box (33, 31), then moved down by `shift` units."""

    def x(value: float) -> float:
        return (33 + (value - 33) * scale) * unit

    def y(value: float) -> float:
        return (31 + shift + (value - 31) * scale) * unit

    def disc(radius: float, fill: str) -> None:
        r = radius * scale * unit
        draw.pieslice((x(12) - r, y(52) - r, x(12) + r, y(52) + r), 270, 360, fill=fill)

    for outer, inner in ((42, 34), (26, 18)):
        disc(outer, WHITE)
        disc(inner, BLUE)
    dot = 6 * scale * unit
    draw.ellipse((x(18) - dot, y(46) - dot, x(18) + dot, y(46) + dot), fill=WHITE)


def icon(size: int, *, maskable: bool) -> Image.Image:
    big = size * SUPERSAMPLE
    unit = big / UNITS
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=BLUE)
        # Centred and at 0.8 (42 units wide: 34), its corners stay inside the safe circle
        # (radius 40%) that every launcher's shape keeps.
        draw_symbol(draw, unit, 0.8, 1)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=14 * unit, fill=BLUE)
        draw_symbol(draw, unit, 1.0, 0)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        icon(size, maskable=maskable).save(ICONS / name, optimize=True)


if __name__ == "__main__":
    main()
