#!/usr/bin/env python3
"""Writes the small PNG fixtures of tests/test-png.c into tests/fixtures/png/.

The A1111 files are made the way stable-diffusion-webui makes them: its
create_infotext formatting (values with ',' ':' or newlines JSON-quoted) and
Pillow's PngInfo.add_text('parameters', text), which writes tEXt when the text
is Latin-1 and an uncompressed iTXt otherwise. The other files exercise
libpng's conversions: 16-bit grey and a palette with transparency. Each file
carries its text in a different chunk kind (tEXt, iTXt, zTXt, compressed iTXt).

Run with a Python that has Pillow:  /work/main/.venv/bin/python tools/png_fixtures.py
The pixel formulas here are repeated in tests/test-png.c.
"""
import json
import os
import sys

from PIL import Image
from PIL.PngImagePlugin import PngInfo

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "png")


def quote(text):
    """stable-diffusion-webui modules/infotext_utils.py quote()"""
    if "," not in str(text) and "\n" not in str(text) and ":" not in str(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def create_infotext(prompt, negative, params):
    """The text layout of stable-diffusion-webui's processing.create_infotext."""
    params_text = ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in params.items() if v is not None)
    negative_text = f"\nNegative prompt: {negative}" if negative else ""
    return f"{prompt}{negative_text}\n{params_text}".strip()


def save(name, image, key, text, zip=False):
    info = PngInfo()
    info.add_text(key, text, zip=zip)
    image.save(os.path.join(OUT, name), format="PNG", pnginfo=info)


def rgb_ramp(w, h):
    """Pixel (x, y) = (x * 32, y * 32, (x + y) * 16)."""
    data = bytes(v for y in range(h) for x in range(w) for v in (x * 32, y * 32, (x + y) * 16))
    return Image.frombytes("RGB", (w, h), data)


def main():
    os.makedirs(OUT, exist_ok=True)

    # Latin-1 text -> tEXt, with a multi-line prompt and quoted values.
    text = create_infotext(
        "a café at night, (masterpiece:1.2)\nwide shot, 35mm",
        "blurry, lowres\nwatermark",
        {
            "Steps": 20,
            "Sampler": "DPM++ 2M",
            "Schedule type": "Karras",
            "CFG scale": 7.5,
            "Seed": 1234567890,
            "Size": "512x768",
            "Model hash": "6ce0161689",
            "Model": "v1-5, pruned: ema",
            "Lora hashes": "detail: 0a1b2c3d4e5f, style: ffee00112233",
            "Clip skip": 2,
            "Version": "v1.10.1",
        },
    )
    save("a1111.png", rgb_ramp(8, 8), "parameters", text)

    # Text beyond Latin-1 -> uncompressed iTXt; no negative prompt.
    text = create_infotext(
        "猫 on a 🚀, \"quoted\"",
        "",
        {"Steps": 4, "Sampler": "Euler", "CFG scale": 1.0, "Seed": 18446744073709551615,
         "Size": "32x32", "Model": "絵文字, model", "Version": "v1.9.0"},
    )
    save("a1111_utf8.png", rgb_ramp(4, 4), "parameters", text)

    # 16-bit grey: value (x * 9000 + y * 17000 + 123) % 65536, with a zTXt.
    w, h = 8, 4
    grey = Image.new("I;16", (w, h))
    grey.putdata([(x * 9000 + y * 17000 + 123) % 65536 for y in range(h) for x in range(w)])
    save("grey16.png", grey, "parameters",
         create_infotext("grey ramp", "", {"Steps": 2, "Sampler": "Euler", "Seed": 5}), zip=True)

    # Palette of 4 colours, index (x + y) % 4, index 3 fully transparent, with
    # a compressed iTXt.
    pal = Image.new("P", (6, 5))
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 100, 50])
    pal.putdata([(x + y) % 4 for y in range(5) for x in range(6)])
    info = PngInfo()
    info.add_itxt("parameters", create_infotext("palette ✓", "", {"Steps": 3, "Sampler": "Euler", "Seed": 9}),
                  zip=True)
    pal.save(os.path.join(OUT, "palette.png"), format="PNG", pnginfo=info, transparency=3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
