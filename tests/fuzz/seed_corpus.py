#!/usr/bin/env python3
"""Write the fuzz seed corpus (corpus/d4/) from the D4 test cases: each
case's program, a NUL byte, then its input packets as the harness reads
them (2-byte big-endian length, bytes). Run after adding cases:
    python3 tests/fuzz/seed_corpus.py"""
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
cases = os.path.join(here, "..", "d4", "cases")
out = os.path.join(here, "corpus", "d4")


def sections(text):
    parts = re.split(r"^-- ", text, flags=re.M)
    for p in parts[1:]:
        head, _, body = p.partition("\n")
        yield head.split(), body


def main():
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(cases)):
        if not name.endswith(".d4"):
            continue
        with open(os.path.join(cases, name)) as f:
            text = f.read()
        src, pkts = None, []
        for head, body in sections(text):
            if head[0] == "src" and src is None:
                src = body
            elif head[0] == "srcfile" and src is None:
                # an example program, by path from the cases folder
                with open(os.path.join(cases, head[1])) as f:
                    src = f.read()
            elif head[0] == "in":
                hexs = re.sub(r"#.*", "", body)
                pkts.append(bytes.fromhex("".join(hexs.split())))
        if src is None or len(src) > 8000:
            continue
        data = src.encode() + b"\0"
        for p in pkts:
            data += len(p).to_bytes(2, "big") + p
        with open(os.path.join(out, "case-" + name[:-3]), "wb") as f:
            f.write(data)
        n += 1
    print(f"{n} corpus files in {out}")


if __name__ == "__main__":
    sys.exit(main())
