#!/usr/bin/env python3
"""Compiles and runs every ```c and ```cpp block of README.md against the built
library, so that the README never shows code that does not build: C blocks as
C11 with futures.h, C++ blocks as C++17 with futures.hpp, warnings as errors.

Usage: check_readme_snippets.py README.md INCLUDE_DIR LIB_DIR WORK_DIR
"""
import os
import re
import subprocess
import sys

readme, include, libdir, work = sys.argv[1:5]
blocks = re.findall(r"```(c|cpp)\n(.*?)```", open(readme).read(), re.S)
if not any(lang == "c" for lang, _ in blocks):
    sys.exit("no C snippet found in " + readme)
if not any(lang == "cpp" for lang, _ in blocks):
    sys.exit("no C++ snippet found in " + readme)
os.makedirs(work, exist_ok=True)
link = ["-L", libdir, "-lfutures", "-Wl,-rpath," + libdir, "-pthread"]
for i, (lang, code) in enumerate(blocks):
    src = os.path.join(work, f"snippet_{i}.{lang}")
    exe = os.path.join(work, f"snippet_{i}")
    with open(src, "w") as f:
        f.write(code)
    if lang == "c":
        compiler = ["cc", "-std=c11"]
    else:
        compiler = ["c++", "-std=c++17"]
    subprocess.run(compiler + ["-Wall", "-Wextra", "-Werror", "-I", include, src] + link + ["-o", exe],
                   check=True)
    subprocess.run([exe], check=True, timeout=60)
    print(f"ok: README snippet {i} ({lang}) builds and runs")
