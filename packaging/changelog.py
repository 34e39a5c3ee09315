#!/usr/bin/env python3
"""Turn CHANGELOG.md into the Debian changelog or the RPM %changelog.

usage: changelog.py CHANGELOG.md version          print the newest version (exit 1 if none)
       changelog.py CHANGELOG.md debian|rpm|epoch print that format / the newest date as epoch

CHANGELOG.md has `## VERSION (YYYY-MM-DD)` headings, newest first, each followed by `- ` items
(continuation lines indented). Anything else is rejected with the line number, so that a
malformed entry fails the package build instead of producing a malformed changelog.
"""
import datetime
import re
import sys
import textwrap

MAINTAINER = "eni-agent maintainers <eni-agent@lists.example.org>"
HEADING = re.compile(r"^## (\d+\.\d+\.\d+(?:[~+.][0-9A-Za-z.~+]+)?) \((\d{4}-\d{2}-\d{2})\)$")


def parse(path):
    entries, item = [], None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        heading = HEADING.match(line)
        if heading:
            date = datetime.datetime.strptime(heading.group(2), "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
            entries.append({"version": heading.group(1), "date": date, "items": []})
            item = None
        elif line.startswith("## "):
            sys.exit(f"{path}:{number}: heading {line!r} is not '## VERSION (YYYY-MM-DD)'")
        elif not entries:
            continue  # the preamble
        elif line.startswith("- "):
            item = [line[2:].strip()]
            entries[-1]["items"].append(item)
        elif line.startswith("  ") and item is not None:
            item.append(line.strip())
        elif line.strip():
            sys.exit(f"{path}:{number}: {line!r} is neither an item ('- ') nor its continuation")
    if not entries:
        sys.exit(f"{path}: no '## VERSION (YYYY-MM-DD)' entry")
    for entry in entries:
        if not entry["items"]:
            sys.exit(f"{path}: entry {entry['version']} has no items")
    return entries


def debian(entries):
    out = []
    for e in entries:
        out.append(f"eni-agent ({e['version']}) unstable; urgency=medium\n")
        for item in e["items"]:
            out.append(textwrap.fill(" ".join(item), width=78, initial_indent="  * ", subsequent_indent="    "))
        stamp = e["date"].strftime("%a, %d %b %Y %H:%M:%S +0000")
        out.append(f"\n -- {MAINTAINER}  {stamp}\n")
    return "\n".join(out)


def rpm(entries):
    out = []
    for e in entries:
        out.append(f"* {e['date'].strftime('%a %b %d %Y')} {MAINTAINER} - {e['version']}-1")
        for item in e["items"]:
            text = " ".join(item).replace("%", "%%")
            out.append(textwrap.fill(text, width=78, initial_indent="- ", subsequent_indent="  "))
        out.append("")
    return "\n".join(out)


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("version", "debian", "rpm", "epoch"):
        sys.exit(__doc__)
    entries = parse(sys.argv[1])
    mode = sys.argv[2]
    if mode == "version":
        print(entries[0]["version"])
    elif mode == "epoch":
        print(int(entries[0]["date"].timestamp()))
    elif mode == "debian":
        sys.stdout.write(debian(entries))
    else:
        sys.stdout.write(rpm(entries))


if __name__ == "__main__":
    main()
