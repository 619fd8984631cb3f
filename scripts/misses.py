#!/usr/bin/env python3
"""Lists the certificate pages of kept accuracy runs that were not attached right, with what each reader
read and how the page was scanned, and counts them by kind. Usage, after
`KEEP=DIR scripts/accuracy.sh LEVEL SEEDS...`: `python3 scripts/misses.py DIR/LEVEL-*`."""
import collections
import json
import sys

kinds = collections.Counter()
total = right = wrong = 0
for d in sys.argv[1:]:
    try:
        report = json.load(open(d + "/processed/report.json"))
        truth = json.load(open(d + "/scan-truth.json"))
    except (OSError, ValueError) as e:
        print(f"{d}: {e}")
        continue
    pages = {p["page"]: p for p in report["pages"]}
    for t in truth["pages"]:
        if t["kind"] != "certificate":
            continue
        total += 1
        r = pages[t["page"]]
        if r["outcome"] == "attached":
            if r.get("application_id") == t["application_id"] and r.get("blank_number") == t["blank_number"]:
                right += 1
            else:
                wrong += 1
                print(f"WRONG {d} p{t['page']}: attached {r.get('application_id')} {r.get('blank_number')}, truth {t['application_id']} {t['blank_number']}")
            continue
        read = r.get("blank_number_readings") or {}
        tess, glyphs = read.get("tesseract"), read.get("glyphs")
        sure = (read.get("tesseract_confidence") or 0) >= 0.8
        how = "nothing read" if not read else (
            ("tesseract right" if tess == t["blank_number"] else "tesseract wrong") + (" sure" if sure else " unsure") + ", glyphs "
            + ("right" if glyphs == t["blank_number"] else "none" if glyphs is None else "partial" if "?" in glyphs else "wrong"))
        kinds[(r.get("reason"), t.get("color"), how)] += 1
        print(f"{d} p{t['page']} {r.get('reason')} {t.get('color')} {t.get('dpi')} dpi {t.get('typeface')} overlaps={t.get('overlaps')} "
              f"truth {t['blank_number']} tesseract {tess} ({read.get('tesseract_confidence')}) glyphs {glyphs}")
print(f"certificates {total}, attached right {right}, wrong {wrong}")
for k, v in kinds.most_common():
    print(v, *k)
