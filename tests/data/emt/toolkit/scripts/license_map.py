#!/usr/bin/env python3
"""Stand-in (our own text, written for emtk3s's tests) for EMT's toolkit/scripts/license_map.py
(open-edge-platform/edge-microvisor-toolkit commit ca3bee2e49680bd4e2dd702904906a1bf6103a67).

Same command line (json md paths... [--no_check] [--update] [--remove_missing]), the same JSON
(4-space indent, origins sorted case-insensitively, specs sorted and unique) and Markdown table,
origins read from the changelog's attribution line; only the Intel and Fedora rules are
reproduced. The check (on unless --no_check) fails (exit 1) on specs of unknown origin, specs
missing from or added to the JSON, or an out-of-date Markdown map, and prints, as the real
script does, the specs of unknown origin and the map that is out of date.
"""
import argparse
import json
import re
import sys
from pathlib import Path

RULES = {
    "Fedora": r"\n-\s+Initial (Edge Microvisor Toolkit|Azure Linux) import from Fedora \d+ \(license: MIT\)(\.|\n|$)",
    "Intel": r"\n-\s+(Original version for Edge Microvisor Toolkit)( \(license: MIT\))?(\.|\n|$)",
}

def origin(spec):
    text = spec.read_text()
    log = text[text.find("%changelog"):]
    return next((o for o, r in RULES.items() if re.search(r, log)), None)

def markdown(c):
    out = [c["header"], "", "| " + " | ".join(c["table_headers"]) + " |",
           "|" + "|".join(" --- " for _ in c["table_headers"]) + "|"]
    for o, d in c["licenses"].items():
        out.append("| {0} | {1} | {2} |".format(o, d["license"], " <br> ".join(d["specs"])))
    return "\n".join(out) + "\n"

p = argparse.ArgumentParser()
p.add_argument("json_filename", type=Path)
p.add_argument("markdown_filename", type=Path)
p.add_argument("file_paths", type=Path, nargs="+")
p.add_argument("--no_check", dest="check", action="store_false")
p.add_argument("--update", action="store_true")
p.add_argument("--remove_missing", action="store_true")
a = p.parse_args()
c = json.loads(a.json_filename.read_text())
in_json = {o: set(d["specs"]) for o, d in c["licenses"].items()}
found = {o: set() for o in RULES}
unknown = set()
for f in a.file_paths:
    for spec in (f.glob("**/*.spec") if f.is_dir() else [f]):
        o = origin(spec)
        if o is None:
            unknown.add(spec.stem)
        else:
            found[o].add(spec.stem)
            c["licenses"][o]["specs"].append(spec.stem)
if a.remove_missing:
    for o in RULES:
        c["licenses"][o]["specs"] = [s for s in c["licenses"][o]["specs"] if s in found[o]]
c["licenses"] = dict(sorted(c["licenses"].items(), key=lambda i: i[0].lower()))
for d in c["licenses"].values():
    d["specs"] = sorted(set(d["specs"]), key=str.lower)
old, new = a.markdown_filename.read_text(), markdown(c)
if a.update:
    a.json_filename.write_text(json.dumps(c, indent=4) + "\n")
    a.markdown_filename.write_text(new)
if a.check:
    missing = any(found[o] - in_json.get(o, set()) or in_json.get(o, set()) - found[o] for o in RULES)
    if missing or unknown or old != new:
        if unknown:
            print("Specs from unknown distributions:\n" + "".join(f"\t{s}\n" for s in sorted(unknown)))
        if old != new:
            print(f"License map '{a.markdown_filename}' is out of date.")
        sys.exit(1)
