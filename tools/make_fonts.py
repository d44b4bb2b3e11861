"""Build the bundled Simplified Chinese UI fonts from Debian's Noto Sans CJK collections.

The kiosk PCs cannot be relied on to have a CJK font, and the full collections are
tens of megabytes, so we ship a subset of just the Simplified Chinese face: ASCII,
CJK punctuation, the 3755 level-1 GB2312 hanzi and every character of the UI strings.

Developer tool (needs fontTools, which is not a runtime dependency):
    .venv/bin/pip install fonttools
    .venv/bin/python tools/make_fonts.py
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "media" / "fonts"
STRINGS_PY = ROOT / "kiosk" / "strings.py"
NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
DEBIAN_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")

SOURCE_FAMILY = "Noto Sans CJK SC"
# Upstream noto-cjk's LICENSE opens with this; Debian's copyright file has an older,
# shorter line and omits the Reserved Font Name, so OFL.txt carries both.
UPSTREAM_NOTICE = (
    "Copyright 2014-2021 Adobe (http://www.adobe.com/), with Reserved Font Name 'Source'."
)
TRADEMARK = "Noto is a trademark of Google Inc."
# A new family name, so the subset is never mistaken for (or shadowed by) the full font.
SUBSET_FAMILY = "Noto Sans SC Kiosk Subset"
WEIGHTS = ("Regular", "Bold")

# Symbols a Chinese UI commonly needs that are outside ASCII and the ranges below.
EXTRA_CHARS = "·•…—–‘’“”《》〈〉【】〔〕「」『』¥￥°℃×÷←→↑↓√※"
EXTRA_RANGES = (
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。〃「」 etc.
    (0xFF01, 0xFF5E),  # full-width ASCII: ，：；！？（）％ etc.
    (0xFFE0, 0xFFE6),  # full-width currency signs, including ￥
)
# Keep what horizontal Chinese and Latin text uses; the kiosk never sets vertical text.
# No 'locl': in this face it maps to the JP/KR/TC glyph forms, which would double the
# size and let a non-Chinese system locale switch the shaper to the wrong forms.
LAYOUT_FEATURES = ["ccmp", "liga", "calt", "kern", "mark", "mkmk"]
DROP_TABLES = ["vhea", "vmtx", "VORG", "BASE"]
# Copyright, names, version, trademark, licence description and licence URL.
KEEP_NAME_IDS = [0, 1, 2, 3, 4, 5, 6, 7, 13, 14]


def gb2312_level1() -> str:
    """Return the 3755 level-1 GB2312 hanzi, which cover everyday Chinese text."""
    chars = []
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.append(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the tail of row 0xD7 is unassigned
    return "".join(chars)


def strings_chars() -> str | None:
    """Return every character of kiosk.strings.STRINGS, or None if that module doesn't exist.

    Imported by path so the tool works without installing the package, and so rare
    characters in the UI text (names, slang) are never missing from the subset.
    """
    if not STRINGS_PY.exists():
        return None
    spec = importlib.util.spec_from_file_location("kiosk_strings", STRINGS_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    chars = []
    for key, value in module.STRINGS.items():
        if not isinstance(value, str):
            raise TypeError(f"STRINGS[{key!r}] is {type(value).__name__}, expected str")
        chars.append(value)
    return "".join(chars)


def charset(ui_text: str) -> str:
    """Return the sorted, de-duplicated characters the subset must cover."""
    chars = set(map(chr, range(0x20, 0x7F)))
    chars.update(EXTRA_CHARS)
    for first, last in EXTRA_RANGES:
        chars.update(map(chr, range(first, last + 1)))
    chars.update(gb2312_level1())
    chars.update(c for c in ui_text if c.isprintable())
    return "".join(sorted(chars))


def find_face(collection: TTCollection, family: str) -> int:
    """Return the index of the face named `family`; the order differs between releases."""
    for index, font in enumerate(collection.fonts):
        if font["name"].getDebugName(1) == family:
            return index
    raise LookupError(f"no face with family name {family!r}")


def rename(font: TTFont, weight: str) -> None:
    """Give the subset its own family name (OFL: a Modified Version is clearly marked)."""
    full_name = f"{SUBSET_FAMILY} {weight}"
    ps_name = f"{SUBSET_FAMILY.replace(' ', '')}-{weight}"
    name = font["name"]
    version = name.getDebugName(5)
    for name_id, value in (
        (1, SUBSET_FAMILY),
        (2, weight),
        (3, f"{ps_name};{version}"),
        (4, full_name),
        (5, f"{version}; subset of {SOURCE_FAMILY} by tools/make_fonts.py"),
        (6, ps_name),
    ):
        name.setName(value, name_id, 3, 1, 0x409)
    cff = font["CFF "].cff
    top = cff[cff.fontNames[0]]
    top.FamilyName = SUBSET_FAMILY
    top.FullName = full_name
    cff.fontNames[0] = ps_name


def build(weight: str, text: str) -> Path:
    """Subset one weight of the Simplified Chinese face and return the output path."""
    collection = TTCollection(NOTO_DIR / f"NotoSansCJK-{weight}.ttc")
    font = collection.fonts[find_face(collection, SOURCE_FAMILY)]
    missing = [c for c in text if ord(c) not in font.getBestCmap()]
    if missing:
        print(f"  {weight}: not in the source font, skipped: {''.join(missing)!r}")
    options = subset.Options()
    options.hinting = False
    options.notdef_outline = True  # a missing character shows as a box, not as nothing
    options.layout_features = LAYOUT_FEATURES
    options.drop_tables = options.drop_tables + DROP_TABLES
    options.name_IDs = KEEP_NAME_IDS
    options.name_languages = [0x409]
    options.name_legacy = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    rename(font, weight)
    out = OUT_DIR / f"NotoSansSC-{weight}.otf"
    font.recalcTimestamp = False  # same input, same bytes: no spurious diffs on regeneration
    font.save(out)
    return out


def ofl_text() -> str:
    """Return the copyright notices and the OFL 1.1 text as Debian ships it for this font."""
    copyright_line = ""
    licence: list[str] = []
    # Debian's copyright file is in blank-line separated paragraphs (DEP-5).
    for paragraph in DEBIAN_COPYRIGHT.read_text(encoding="utf-8").split("\n\n"):
        lines = paragraph.splitlines()
        if lines[0] == "Files: *":
            copyright_line = next(x for x in lines if x.startswith("Copyright:"))
            copyright_line = copyright_line.removeprefix("Copyright:").strip()
        elif lines[0] == "License: SIL-1.1" and len(lines) > 1:
            licence = ["" if x == " ." else x[1:] for x in lines[1:]]
    if not copyright_line or not licence:
        raise ValueError(f"unexpected layout of {DEBIAN_COPYRIGHT}")
    body = "\n".join(licence)
    return f"{UPSTREAM_NOTICE}\nCopyright {copyright_line}\n{TRADEMARK}\n\n{body}\n"


def main() -> None:
    """Write both weights and the licence next to them."""
    ui_text = strings_chars()
    if ui_text is None:
        print(f"{STRINGS_PY.relative_to(ROOT)} not found: UI strings not added")
        ui_text = ""
    else:
        print(f"{STRINGS_PY.relative_to(ROOT)}: {len(set(ui_text))} distinct characters")
    text = charset(ui_text)
    print(f"{len(text)} characters requested")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for weight in WEIGHTS:
        out = build(weight, text)
        print(f"  {out.relative_to(ROOT)}: {out.stat().st_size / 1e6:.2f} MB")
    (OUT_DIR / "OFL.txt").write_text(ofl_text(), encoding="utf-8")


if __name__ == "__main__":
    main()
