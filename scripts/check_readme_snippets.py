#!/usr/bin/env python3
"""Compiles and runs every ```c block of README.md against the built library,
so that the README never shows code that does not build.

Usage: check_readme_snippets.py README.md INCLUDE_DIR LIB_DIR WORK_DIR
"""
import os
import re
import subprocess
import sys

readme, include, libdir, work = sys.argv[1:5]
blocks = re.findall(r"```c\n(.*?)```", open(readme).read(), re.S)
if not blocks:
    sys.exit("no C snippet found in " + readme)
os.makedirs(work, exist_ok=True)
for i, code in enumerate(blocks):
    src = os.path.join(work, f"snippet_{i}.c")
    exe = os.path.join(work, f"snippet_{i}")
    with open(src, "w") as f:
        f.write(code)
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", include, src,
                    "-L", libdir, "-lfutures", "-Wl,-rpath," + libdir, "-pthread", "-o", exe],
                   check=True)
    subprocess.run([exe], check=True, timeout=60)
    print(f"ok: README snippet {i} builds and runs")
