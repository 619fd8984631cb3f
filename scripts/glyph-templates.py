#!/usr/bin/env python3
"""Writes pipeline/data/digit-glyphs.txt: the digits 0-9 of many typefaces as binary bitmaps, the
templates of the glyph reader (pipeline/src/glyphs.rs), the blank-number reader that is not Tesseract.

The DejaVu family is left out on purpose: the project's own simulator prints blank numbers in DejaVu
typefaces, so the accuracy figures measure the glyph reader on typefaces it has never seen.

Needs Pillow and the Debian font packages fonts-liberation2 fonts-freefont-ttf fonts-urw-base35
fonts-noto-core fonts-texgyre fonts-crosextra-caladea fonts-crosextra-carlito fonts-linuxlibertine
(only to regenerate the file; the file itself is committed).
Usage: python3 scripts/glyph-templates.py > pipeline/data/digit-glyphs.txt
"""
import os
import sys

from PIL import Image, ImageDraw, ImageFont

FONTS = [
    "truetype/liberation2/LiberationSerif-Regular.ttf",
    "truetype/liberation2/LiberationSerif-Bold.ttf",
    "truetype/liberation2/LiberationSans-Regular.ttf",
    "truetype/liberation2/LiberationSans-Bold.ttf",
    "truetype/liberation2/LiberationMono-Regular.ttf",
    "truetype/liberation2/LiberationMono-Bold.ttf",
    "truetype/freefont/FreeSerif.ttf",
    "truetype/freefont/FreeSerifBold.ttf",
    "truetype/freefont/FreeSans.ttf",
    "truetype/freefont/FreeSansBold.ttf",
    "truetype/freefont/FreeMono.ttf",
    "truetype/freefont/FreeMonoBold.ttf",
    "opentype/urw-base35/NimbusRoman-Regular.otf",
    "opentype/urw-base35/NimbusRoman-Bold.otf",
    "opentype/urw-base35/NimbusSans-Regular.otf",
    "opentype/urw-base35/NimbusSans-Bold.otf",
    "opentype/urw-base35/NimbusSansNarrow-Regular.otf",
    "opentype/urw-base35/NimbusSansNarrow-Bold.otf",
    "opentype/urw-base35/NimbusMonoPS-Regular.otf",
    "opentype/urw-base35/NimbusMonoPS-Bold.otf",
    "opentype/urw-base35/C059-Roman.otf",
    "opentype/urw-base35/C059-Bold.otf",
    "opentype/urw-base35/P052-Roman.otf",
    "opentype/urw-base35/P052-Bold.otf",
    "opentype/urw-base35/URWBookman-Light.otf",
    "opentype/urw-base35/URWBookman-Demi.otf",
    "opentype/urw-base35/URWGothic-Book.otf",
    "opentype/urw-base35/URWGothic-Demi.otf",
    "truetype/noto/NotoSerif-Regular.ttf",
    "truetype/noto/NotoSerif-Bold.ttf",
    "truetype/noto/NotoSans-Regular.ttf",
    "truetype/noto/NotoSans-Bold.ttf",
    "truetype/crosextra/Caladea-Regular.ttf",
    "truetype/crosextra/Caladea-Bold.ttf",
    "truetype/crosextra/Carlito-Regular.ttf",
    "truetype/crosextra/Carlito-Bold.ttf",
    "opentype/linux-libertine/LinLibertine_R.otf",
    "opentype/linux-libertine/LinLibertine_RB.otf",
    "opentype/linux-libertine/LinBiolinum_R.otf",
    "opentype/linux-libertine/LinBiolinum_RB.otf",
]
TEXGYRE = "/usr/share/texmf/fonts/opentype/public/tex-gyre/"
for name in ["texgyretermes-regular.otf", "texgyretermes-bold.otf", "texgyreheros-regular.otf",
             "texgyrecursor-regular.otf", "texgyreheroscn-regular.otf", "texgyreheroscn-bold.otf", "texgyrebonum-regular.otf", "texgyreschola-regular.otf",
             "texgyrepagella-regular.otf", "texgyreadventor-regular.otf"]:
    FONTS.append(TEXGYRE + name)

# Digit height in pixels: about a 4 mm digit at 10 px/mm, the resolution the reader crops at.
EM = 48


def render(path, digit):
    font = ImageFont.truetype(path, EM)
    image = Image.new("L", (EM * 2, EM * 2), 255)
    ImageDraw.Draw(image).text((EM // 2, EM // 4), digit, font=font, fill=0)
    box = image.point(lambda v: 255 if v < 128 else 0).getbbox()
    if box is None:
        raise SystemExit(f"{path}: digit {digit} renders empty")
    glyph = image.crop(box)
    pixels = glyph.load()
    rows = []
    for y in range(glyph.height):
        bits = "".join("1" if pixels[x, y] < 128 else "0" for x in range(glyph.width))
        bits += "0" * (-len(bits) % 4)
        rows.append("".join("%x" % int(bits[i:i + 4], 2) for i in range(0, len(bits), 4)))
    return glyph.width, glyph.height, rows


def main():
    out = sys.stdout
    out.write("# digit templates: name digit width height, then each row as hex (1 bits = ink, left first, padded to 4 bits), written by scripts/glyph-templates.py\n")
    for rel in FONTS:
        path = rel if rel.startswith("/") else "/usr/share/fonts/" + rel
        if not os.path.exists(path):
            raise SystemExit(f"missing font {path}: install the packages named in this script's doc")
        name = os.path.splitext(os.path.basename(path))[0]
        for digit in "0123456789":
            w, h, rows = render(path, digit)
            out.write(f"{name} {digit} {w} {h} {' '.join(rows)}\n")


if __name__ == "__main__":
    main()
