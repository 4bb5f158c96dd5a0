#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The docs point only inside the repository: no absolute path of a build
machine (/work/..., /home/..., ../shared), and every relative Markdown link
resolves to a file or directory of the repository. Usage: docs_paths.py SOURCE_DIR"""
import os
import re
import sys

# Paths of the machines the project was written on, never a user's.
FORBIDDEN = [r"/work/", r"\.\./shared", r"/home/", r"/root/", r"file://"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.M)


def doc_files(root):
    names = ["README.md", "CHANGELOG.md", "tests/vectors/README.md"]
    for sub in ("docs", "man"):
        d = os.path.join(root, sub)
        if os.path.isdir(d):
            names += [os.path.join(sub, n) for n in sorted(os.listdir(d))]
    return [n for n in names if os.path.isfile(os.path.join(root, n))]


def check(root, name):
    problems = []
    path = os.path.join(root, name)
    text = open(path, encoding="utf-8").read()
    for lineno, line in enumerate(text.splitlines(), 1):
        for pat in FORBIDDEN:
            if re.search(pat, line):
                problems.append(f"{name}:{lineno}: path outside the repository ({pat}): {line.strip()}")
    for m in LINK.finditer(text):
        target = m.group(1) or m.group(2)
        lineno = text.count("\n", 0, m.start()) + 1
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a URL or an anchor in the same page
        file_part = target.split("#", 1)[0]
        if file_part.startswith("/"):
            problems.append(f"{name}:{lineno}: absolute link {target}")
            continue
        resolved = os.path.realpath(os.path.join(os.path.dirname(path), file_part))
        if os.path.commonpath([resolved, os.path.realpath(root)]) != os.path.realpath(root):
            problems.append(f"{name}:{lineno}: link {target} leaves the repository")
        elif not os.path.exists(resolved):
            problems.append(f"{name}:{lineno}: link {target}: no such file in the repository")
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    files = doc_files(root)
    if len(files) < 5:
        sys.exit(f"FAIL: only {len(files)} docs found under {root}")
    problems = [p for f in files for p in check(root, f)]
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"PASS: {len(files)} docs, every path inside the repository")


if __name__ == "__main__":
    main()
