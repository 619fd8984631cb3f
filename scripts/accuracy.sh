#!/usr/bin/env bash
# Accuracy against the simulator's truth: for each seed, `certscan demo` at LEVEL (20 applications), then
# every page of the report compared with scan-truth.json. A certificate page is right when attached to
# its application with its blank number, wrong when attached otherwise; blank pages must be ignored,
# duplicates duplicate, other exams' pages in review as other_exam. Prints one line per seed and a total.
# Usage: scripts/accuracy.sh LEVEL SEED... with LEVEL clean, typical, hard or office (after
# `cargo build --release -p certscan`); APPLICATIONS=N
# for another stack size, BIN=PATH for another certscan binary.
# KEEP=DIR keeps every seed's demo output (scan, report, page files) in DIR to look at the misses.
# REREAD=1 with KEEP=DIR: where DIR already holds a seed's scan (same level and seed), only `certscan
# process` runs again on it (a new build judged on the same stacks without simulating them again).
# Example: scripts/accuracy.sh hard $(seq 301 310); with KEEP, `python3 scripts/misses.py DIR/LEVEL-*` lists the misses.
set -euo pipefail
cd "$(dirname "$0")/.."
level=$1
shift
# Not CERTSCAN_BIN: certscan reads every CERTSCAN_* variable as its configuration and rejects unknown ones.
bin=${BIN:-target/release/certscan}
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  work=$(cd "$KEEP" && pwd)
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
for seed in "$@"; do
  out="$work/$level-$seed"
  if [ -n "${REREAD:-}" ] && [ -f "$out/scan.pdf" ] && [ -f "$out/scan-truth.json" ]; then
    rm -rf "$out/processed"
    OMP_THREAD_LIMIT=1 "$bin" process "$out/scan.pdf" --exam "$out/exam.json" --fis "$out/fis-frdo.csv" --out "$out/processed" >/dev/null 2>&1 \
      || { echo "seed $seed: certscan process failed"; continue; }
    echo "$out $seed"
    continue
  fi
  rm -rf "$out"
  OMP_THREAD_LIMIT=1 "$bin" demo --out "$out" --applications "${APPLICATIONS:-20}" --seed "$seed" --level "$level" >/dev/null 2>&1 \
    || { echo "seed $seed: certscan demo failed"; continue; }
  echo "$out $seed"
done >"$work/runs"
python3 - "$work/runs" <<'PY'

import json, sys
total = right = wrong = others_bad = 0


def original_missed(dup, truth, report):
    """The certificate page this duplicate repeats (same application, same blank) was not attached."""
    return any(
        t["kind"] == "certificate" and t["application_id"] == dup["application_id"] and t["blank_number"] == dup["blank_number"]
        and report[p]["outcome"] != "attached"
        for p, t in truth.items()
    )


for line in open(sys.argv[1]):
    if line.startswith("seed "):
        print(line.rstrip()); continue
    out, seed = line.split()
    truth = {p["page"]: p for p in json.load(open(out + "/scan-truth.json"))["pages"]}
    report = {p["page"]: p for p in json.load(open(out + "/processed/report.json"))["pages"]}
    n = ok = bad = other = rescued = 0
    missed = []
    for page, t in sorted(truth.items()):
        r = report[page]
        if t["kind"] == "certificate":
            n += 1
            if r["outcome"] == "attached":
                if r["application_id"] == t["application_id"] and r["blank_number"] == t["blank_number"]:
                    ok += 1
                else:
                    bad += 1
            else:
                missed.append(f"p{page} {r['outcome']}:{r.get('reason')}")
        elif t["kind"] == "duplicate" and r["outcome"] == "attached" and original_missed(t, truth, report):
            # The sheet scanned again was read where its first scan was not: attaching it is right, and
            # the certificate counts as attached (its first page is listed as missed above or below).
            if r["application_id"] == t["application_id"] and r["blank_number"] == t["blank_number"]:
                rescued += 1
            else:
                bad += 1
        else:
            want = {"blank": "ignored", "duplicate": "duplicate", "other_exam": "review"}[t["kind"]]
            if r["outcome"] != want or (t["kind"] == "other_exam" and r.get("reason") != "other_exam"):
                other += 1
                missed.append(f"p{page} {t['kind']}->{r['outcome']}:{r.get('reason')}")
            if r["outcome"] == "attached":
                bad += 1
    ok += rescued
    total += n; right += ok; wrong += bad; others_bad += other
    listed = " ".join(missed)
    print(f"seed {seed}: {ok}/{n} attached right, {bad} wrong, {other} other pages misclassified  {listed}")
if total:
    print(f"total: {right}/{total} = {100 * right / total:.1f} % attached right, {wrong} wrong, {others_bad} other pages misclassified")
PY
