#!/usr/bin/env python3
"""Checks that every ```go and ```zig block of README.md is, character for
character, the file of the repository named on the line just above it:

    <!-- file: bindings/go/examples/quickstart/main.go -->
    ```go
    ...
    ```

Those files are built and run by the go_bindings and zig_example tests, so
the README never shows Go or Zig code that does not build. At least one Go
and one Zig block must be there.

Usage: check_readme_files.py README.md REPO_ROOT
"""
import os
import re
import sys

readme, root = sys.argv[1:3]
text = open(readme, encoding="utf-8").read()
blocks = re.findall(r"(?:<!-- file: (\S+) -->\n)?```(go|zig)\n(.*?)```", text, re.S)
failed = False
for lang in ("go", "zig"):
    if not any(b[1] == lang for b in blocks):
        print(f"FAIL: no ```{lang} block in {readme}")
        failed = True
for path, lang, code in blocks:
    if not path:
        print(f"FAIL: a ```{lang} block has no '<!-- file: PATH -->' line above it")
        failed = True
        continue
    try:
        want = open(os.path.join(root, path), encoding="utf-8").read()
    except OSError as e:
        print(f"FAIL: {path}: {e}")
        failed = True
        continue
    if code != want:
        print(f"FAIL: the README's ```{lang} block differs from {path}")
        failed = True
    else:
        print(f"ok: the README's ```{lang} block is {path}")
sys.exit(1 if failed else 0)
