#!/usr/bin/env python3
"""Write the kernelctl logos for each kernel language: logo-svg.svg, logo-32x32.png, logo-64x64.png.

Run from anywhere: ``python3 kernelspecs/make_logos.py``. Standard library only, and the
output is the same at every run, so the committed files can be regenerated and diffed.

The mark is a rounded square in the language's colour with a white "kc" drawn as strokes
(no font, so it looks the same everywhere) and the language's accent dots in the corner:
Python's yellow, Julia's green, red and purple, R's grey. One list of shapes describes it;
the SVG is written from it and the PNGs are rasterised from it here, with 8x8 samples per
pixel for smooth edges, so the three files always agree.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
VIEWBOX = 64.0  # shape coordinates are in a 64x64 box, y pointing down as in SVG
SUPERSAMPLE = 8
WHITE = "#ffffff"
STROKE = 6.5


@dataclass(frozen=True)
class Shape:
    """A filled region: its SVG element, and a test of whether a point lies inside it."""

    svg: str
    colour: str
    contains: Callable[[float, float], bool]


def rounded_square(x: float, y: float, size: float, radius: float, colour: str) -> Shape:
    def contains(px: float, py: float) -> bool:
        # distance from the square shrunk by the radius, compared with the radius
        dx = max(x + radius - px, 0.0, px - (x + size - radius))
        dy = max(y + radius - py, 0.0, py - (y + size - radius))
        return x <= px <= x + size and y <= py <= y + size and dx * dx + dy * dy <= radius * radius

    svg = f'<rect x="{x:g}" y="{y:g}" width="{size:g}" height="{size:g}" rx="{radius:g}" fill="{colour}"/>'
    return Shape(svg, colour, contains)


def stroke(x1: float, y1: float, x2: float, y2: float, colour: str) -> Shape:
    """A straight stroke with round caps."""
    length2 = (x2 - x1) ** 2 + (y2 - y1) ** 2

    def contains(px: float, py: float) -> bool:
        t = max(0.0, min(1.0, ((px - x1) * (x2 - x1) + (py - y1) * (y2 - y1)) / length2))
        return math.hypot(px - (x1 + t * (x2 - x1)), py - (y1 + t * (y2 - y1))) <= STROKE / 2

    svg = (f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{colour}" '
           f'stroke-width="{STROKE:g}" stroke-linecap="round"/>')
    return Shape(svg, colour, contains)


def c_stroke(cx: float, cy: float, r: float, gap_degrees: float, colour: str) -> Shape:
    """A "c": a circular stroke with round caps, open by ``gap_degrees`` towards the right."""
    half_gap = math.radians(gap_degrees / 2)
    ends = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (-half_gap, half_gap)]

    def contains(px: float, py: float) -> bool:
        on_ring = abs(math.hypot(px - cx, py - cy) - r) <= STROKE / 2
        if on_ring and abs(math.atan2(py - cy, px - cx)) >= half_gap:
            return True
        return any(math.hypot(px - ex, py - ey) <= STROKE / 2 for ex, ey in ends)

    (x1, y1), (x2, y2) = ends
    # from the upper end the long way round (large-arc 1) anticlockwise on screen (sweep 0)
    svg = (f'<path d="M {x1:.3f} {y1:.3f} A {r:g} {r:g} 0 1 0 {x2:.3f} {y2:.3f}" fill="none" '
           f'stroke="{colour}" stroke-width="{STROKE:g}" stroke-linecap="round"/>')
    return Shape(svg, colour, contains)


def dot(cx: float, cy: float, r: float, colour: str) -> Shape:
    def contains(px: float, py: float) -> bool:
        return math.hypot(px - cx, py - cy) <= r

    return Shape(f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="{colour}"/>', colour, contains)


def kc_mark(background: str, accents: list[Shape]) -> list[Shape]:
    """The shared mark, painted in order: square, accents, then the white "kc"."""
    return [
        rounded_square(2, 2, 60, 13, background),
        *accents,
        stroke(17, 16, 17, 48, WHITE),   # k: stem
        stroke(18, 37, 30, 26, WHITE),   # k: arm
        stroke(22, 34, 31, 48, WHITE),   # k: leg
        c_stroke(44, 37.5, 9.5, 80, WHITE),
    ]


LOGOS: dict[str, list[Shape]] = {
    # Python's blue and yellow
    "python": kc_mark("#3776ab", [dot(50, 14, 5, "#ffd43b")]),
    # Julia's blue, with its three dots (green above, red and purple below), ringed in white
    "julia": kc_mark("#4063d8", [
        dot(49, 9, 4.6, WHITE), dot(49, 9, 3.4, "#389826"),
        dot(43.5, 17.5, 4.6, WHITE), dot(43.5, 17.5, 3.4, "#cb3c33"),
        dot(54.5, 17.5, 4.6, WHITE), dot(54.5, 17.5, 3.4, "#9558b2"),
    ]),
    # R's grey-blue, with a light grey dot ringed in white
    "r": kc_mark("#276dc3", [dot(50, 14, 6, WHITE), dot(50, 14, 4.6, "#a5a7ab")]),
}


def svg_text(shapes: list[Shape]) -> str:
    body = "\n".join(f"  {shape.svg}" for shape in shapes)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{VIEWBOX:g}" height="{VIEWBOX:g}" '
            f'viewBox="0 0 {VIEWBOX:g} {VIEWBOX:g}">\n{body}\n</svg>\n')


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def rasterise(shapes: list[Shape], size: int) -> list[bytes]:
    """RGBA rows of the shapes at ``size`` pixels: each sample takes the topmost shape's colour."""
    scale = VIEWBOX / size
    samples = SUPERSAMPLE * SUPERSAMPLE
    painted = [(shape.contains, rgb(shape.colour)) for shape in reversed(shapes)]
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            red = green = blue = covered = 0
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    px = (x + (sx + 0.5) / SUPERSAMPLE) * scale
                    py = (y + (sy + 0.5) / SUPERSAMPLE) * scale
                    for contains, (r, g, b) in painted:
                        if contains(px, py):
                            red, green, blue, covered = red + r, green + g, blue + b, covered + 1
                            break
            if covered:
                row += bytes((round(red / covered), round(green / covered), round(blue / covered),
                              round(255 * covered / samples)))
            else:
                row += bytes(4)
        rows.append(bytes(row))
    return rows


def png_bytes(rows: list[bytes]) -> bytes:
    """An 8-bit RGBA PNG of ``rows`` (no filtering; zlib does well enough on a logo)."""
    height, width = len(rows), len(rows[0]) // 4

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, no interlace
    raw = b"".join(b"\x00" + row for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    for language, shapes in LOGOS.items():
        out = HERE / language
        out.mkdir(exist_ok=True)
        (out / "logo-svg.svg").write_text(svg_text(shapes), encoding="utf-8")
        for size in (32, 64):
            (out / f"logo-{size}x{size}.png").write_bytes(png_bytes(rasterise(shapes, size)))
        print(f"wrote {out.relative_to(HERE.parent)}/logo-svg.svg, logo-32x32.png, logo-64x64.png")


if __name__ == "__main__":
    main()
