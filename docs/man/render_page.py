#!/usr/bin/python3
"""Turns a page's scdoc source into the scdoc text scdoc(1) renders.

    render_page.py --version V [--proto config.proto] SOURCE OUTPUT

Replaces @VERSION@ with the project's version (CMake's project() is its one
source) and, with --proto, the line @CONFIG_FIELDS@ with the fields of the
config schema (config_fields.py). A page that has the marker but no --proto,
or the reverse, is an error, as is a leftover @WORD@.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config_fields  # noqa: E402

MARKER = "@CONFIG_FIELDS@"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", required=True)
    parser.add_argument("--proto")
    parser.add_argument("source")
    parser.add_argument("output")
    args = parser.parse_args()
    with open(args.source, encoding="utf-8") as source:
        text = source.read()
    lines = text.split("\n")
    markers = [i for i, line in enumerate(lines) if line.strip() == MARKER]
    if args.proto:
        if len(markers) != 1:
            raise SystemExit(f"{args.source}: needs exactly one line "
                             f"{MARKER} for --proto")
        fields = config_fields.render(args.proto).rstrip("\n")
        lines[markers[0]] = fields
    elif markers:
        raise SystemExit(f"{args.source}: {MARKER} without --proto")
    text = "\n".join(lines).replace("@VERSION@", args.version)
    leftover = re.search(r"@[A-Z_]+@", text)
    if leftover:
        raise SystemExit(f"{args.source}: unknown placeholder "
                         f"{leftover.group(0)}")
    with open(args.output, "w", encoding="utf-8") as output:
        output.write(text)


if __name__ == "__main__":
    main()
