#!/usr/bin/env python3
"""One-off rewrite: cite the contract that lives in the repository.

Usage: rewrite_contract_refs.py [--dry-run] [REPO_ROOT]

Code, tests and docs used to cite `SEMANTICS.md` and `API.md`, two design
files kept outside the repository. Their content is now docs/behaviours.md
and docs/api.md; behaviour ids stay as they were. Rewrites, in the folders
scripts/check_ids.py scans:

  "SEMANTICS X9", "SEMANTICS.md F1–F11, F20"  ->  "X9", "F1–F11, F20"
  "(SEMANTICS.md E6)"                         ->  "(E6)"
  "the SEMANTICS item(s)"                     ->  "the behaviour item(s)"
  "SEMANTICS E, X" (families only)            ->  "behaviours E, X"
  any other "SEMANTICS.md" or "SEMANTICS"     ->  "docs/behaviours.md"
  "API.md"                                    ->  "docs/api.md"
  (inside docs/: "behaviours.md", "api.md", relative links)

and, from README.md's "## Performance" heading to its end, the benchmark
workloads W1–W5, P1–P3, M1, I1 -> B-W1 … B-I1 (so they cannot be read as
behaviour ids). Idempotent: a second run changes nothing. Prints every
changed file with its number of changes, then the total.
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

ID = r"[FWETPXB][0-9]{1,3}\b"
# Order matters: the specific forms first, the catch-all last.
RULES = [
    # "(SEMANTICS.md E6)", "SEMANTICS X9", "SEMANTICS.md F12–F16, W15": the ids alone.
    (re.compile(r"\bSEMANTICS(?:\.md)?\s+(?=" + ID + ")"), lambda m, d: ""),
    # "names the SEMANTICS item(s) it checks"
    (re.compile(r"\bSEMANTICS(?:\.md)?\s+(?=items?\b)"), lambda m, d: "behaviour "),
    # "SEMANTICS E, X": whole families
    (re.compile(r"\bSEMANTICS(?:\.md)?\s+(?=[FWETPXB]\b)"), lambda m, d: "behaviours "),
    (re.compile(r"(?<![\w/.-])SEMANTICS(?:\.md)?\b"),
     lambda m, d: "behaviours.md" if d else "docs/behaviours.md"),
    (re.compile(r"(?<![\w/.-])API\.md\b"), lambda m, d: "api.md" if d else "docs/api.md"),
]

BENCH = re.compile(r"(?<![\w-])(W[1-5]|P[1-3]|M1|I1)(?![\w])")
BENCH_FAMILIES = [
    (re.compile(r"\bThe W, M and I rows\b"), "The B-W, B-M and B-I rows"),
    (re.compile(r"\bthe P rows\b"), "the B-P rows"),
]


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


BOX_END = re.compile(r"( +)(\*/\s*)$")


def keep_box_width(old, new):
    """A line that grew and ends in padding before `*/` (a boxed C comment)
    gives back as many padding spaces as it grew, keeping one."""
    grew = len(new) - len(old)
    m = BOX_END.search(new)
    if grew <= 0 or not m or not BOX_END.search(old):
        return new
    cut = min(grew, len(m.group(1)) - 1)
    return new[:m.start(1)] + m.group(1)[cut:] + m.group(2)


def rewrite_refs(text, in_docs):
    n = 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        new = line
        for rx, repl in RULES:
            new, k = rx.subn(lambda m: repl(m, in_docs), new)
            n += k
        lines[i] = keep_box_width(line, new)
    return "\n".join(lines), n


def rewrite_bench_ids(text):
    """Benchmark ids from README's Performance section to the end."""
    at = text.find("\n## Performance")
    if at < 0:
        return text, 0
    head, tail = text[:at], text[at:]
    tail, n = BENCH.subn(r"B-\1", tail)
    for rx, new in BENCH_FAMILIES:
        tail, k = rx.subn(new, tail)
        n += k
    return head + tail, n


def main():
    args = [a for a in sys.argv[1:] if a != "--dry-run"]
    dry = "--dry-run" in sys.argv[1:]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    total = 0
    for path in files(root):
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        new, n = rewrite_refs(old, rel.startswith("docs" + os.sep))
        if rel == "README.md":
            new, k = rewrite_bench_ids(new)
            n += k
        if n:
            total += n
            print(f"{rel}: {n}")
            if not dry:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    print(f"{total} changes{' (dry run)' if dry else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
