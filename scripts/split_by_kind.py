#!/usr/bin/env python3
"""Splits scan PDFs into one PDF per kind of page (image encoding and dpi), to time each kind alone.

Usage: python scripts/split_by_kind.py OUT_DIR SCAN.pdf [SCAN.pdf ...]
Writes OUT_DIR/g4-200.pdf, OUT_DIR/jpeg-300.pdf, ... and prints each file's page count. Needs pypdfium2
(the baseline script's venv has it: see README, "Status and figures"). Then, for each file,
`OMP_THREAD_LIMIT=1 /usr/bin/time certscan process OUT_DIR/KIND.pdf --exam ... --fis ... --out ...`;
pages of other exams are read like any other page (their outcome differs, not their cost).
"""
import os
import sys

import pypdfium2 as pdfium


def kind(page):
    """'g4-200', 'jpeg-300', ...: the encoding and dpi of the page's first image, or None without one."""
    for obj in page.get_objects():
        if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE:
            filters = obj.get_filters()
            encoding = "g4" if "CCITTFaxDecode" in filters else "jpeg" if "DCTDecode" in filters else "other"
            return f"{encoding}-{round(obj.get_metadata().horizontal_dpi)}"
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir, scans = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    kinds = {}
    sources = []
    for path in scans:
        try:
            sources.append(pdfium.PdfDocument(path))
        except (pdfium.PdfiumError, OSError) as e:
            sys.exit(f"{path}: cannot be opened as a PDF: {e}")
    for source in sources:
        for i in range(len(source)):
            k = kind(source[i])
            if k is not None:
                kinds.setdefault(k, []).append((source, i))
    for k, pages in sorted(kinds.items()):
        out = pdfium.PdfDocument.new()
        for source, i in pages:
            out.import_pages(source, [i])
        out.save(os.path.join(out_dir, f"{k}.pdf"))
        print(f"{k}: {len(pages)} pages")


if __name__ == "__main__":
    main()
