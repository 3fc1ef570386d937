#!/usr/bin/env python3
"""Checks that every behaviour id the tree cites is defined in docs/behaviours.md,
and that every Markdown file the tree names exists in the repository.

Usage: check_ids.py [REPO_ROOT]   (default: the parent of this script's folder)

A behaviour id is one letter of the families F W E T P X B Q L N R M followed by a
number, as a whole word, upper case: `(E6)`, `E6/T9`, `F12–F16` (both ends),
`T11, X11`, `"W6: ..."`. docs/behaviours.md defines an id with a list item
that starts `- **E6 `.

Not ids (calibrated on the tree):
- benchmark workloads `B-W1`, `B-P3` (the `B-` prefix): they are named so
  that they cannot be read as behaviours;
- letters outside the families (`C99`, `O2`, `I1`) and lower case
  (`x86`);
- parts of a longer word or number: hex (`0xE6`), identifiers (`E2BIG`,
  `SIGB1`), because the id must stand as a whole word.

File references: any `NAME.md` or `path/NAME.md` outside a URL must exist
relative to the repository root or to the citing file's folder; the bare
word `SEMANTICS` (the contract's old file) is reported too.

Exit status 0 when everything resolves, 1 otherwise (each problem listed as
path:line: what).
"""

import os
import re
import sys

SCAN = ["src", "c_tests", "include", "bindings", "examples_c", "examples_zig",
        "tests", "benches", "docs", "README.md"]
SKIP_DIRS = {"target", "build", ".git", "zig-cache", ".zig-cache", "zig-out",
             "node_modules", "__pycache__"}
TEXT_EXT = {".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".go", ".zig", ".py",
            ".md", ".txt", ".sh", ".cmake", ".toml", ".in", ".mod"}

ID_RE = re.compile(r"(?<![\w])(?<!B-)([FWETPXBQLNRM])([0-9]{1,3})(?![\w])")
DEF_RE = re.compile(r"^- \*\*([FWETPXBQLNRM][0-9]{1,3})\b")
URL_RE = re.compile(r"[a-z]+://\S+")
MD_RE = re.compile(r"(?<![\w./-])([\w./-]*[\w-]\.md)(?![\w])")
SEMANTICS_RE = re.compile(r"\bSEMANTICS\b(?!\.md)")


def files(root):
    for top in SCAN:
        path = os.path.join(root, top)
        if os.path.isfile(path):
            yield path
            continue
        for d, dirs, names in os.walk(path):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
            for n in sorted(names):
                if os.path.splitext(n)[1] in TEXT_EXT:
                    yield os.path.join(d, n)


def definitions(root):
    path = os.path.join(root, "docs", "behaviours.md")
    defs, dups = {}, []
    try:
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                m = DEF_RE.match(line)
                if m:
                    if m.group(1) in defs:
                        dups.append(f"docs/behaviours.md:{no}: {m.group(1)} defined twice")
                    defs[m.group(1)] = no
    except OSError as e:
        sys.exit(f"check_ids: cannot read {path}: {e}")
    return defs, dups


def md_exists(root, citing, ref):
    for base in (root, os.path.dirname(citing)):
        if os.path.isfile(os.path.normpath(os.path.join(base, ref))):
            return True
    return False


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    defs, problems = definitions(root)
    cited, distinct, refs = 0, set(), 0
    bad_ids = bad_refs = 0
    for path in files(root):
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except (OSError, UnicodeDecodeError):
            continue
        for no, line in enumerate(lines, 1):
            text = URL_RE.sub(" ", line)
            if rel == os.path.join("docs", "behaviours.md") and DEF_RE.match(text):
                text = DEF_RE.sub("", text, count=1)  # a definition, not a citation
            for m in ID_RE.finditer(text):
                cited += 1
                ident = m.group(0)
                distinct.add(ident)
                if ident not in defs:
                    bad_ids += 1
                    problems.append(f"{rel}:{no}: {ident} is not defined in docs/behaviours.md")
            for m in MD_RE.finditer(text):
                refs += 1
                if not md_exists(root, path, m.group(1)):
                    bad_refs += 1
                    problems.append(f"{rel}:{no}: {m.group(1)} is not in the repository")
            for m in SEMANTICS_RE.finditer(text):
                refs += 1
                bad_refs += 1
                problems.append(f"{rel}:{no}: SEMANTICS is not in the repository "
                                "(cite the id alone; the ids are in docs/behaviours.md)")
    for p in problems:
        print(p)
    print(f"{cited} ids checked ({len(distinct)} distinct, {len(defs)} defined), "
          f"{bad_ids} unresolved; {refs} file references checked, "
          f"{bad_refs} unresolved")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
