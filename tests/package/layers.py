#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""layers.py OBJECT_DIR: the library's modules form layers with no circles.

A module is one src/*.c; module A depends on B when A's object file uses a
symbol B's defines (read with nm, so a call hidden behind a macro or an
inline function still counts). Any cycle fails the test, printed with the
symbols that make each edge, e.g. the one this test was written for:
messaging -> transport -> objstore_link -> objstore -> messaging.
"""
import collections
import glob
import os
import subprocess
import sys


def read_objects(obj_dir):
    defined, used = {}, collections.defaultdict(set)
    objects = sorted(glob.glob(os.path.join(obj_dir, "*.o")))
    for obj in objects:
        module = os.path.basename(obj).split(".")[0]
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBR":
                defined[parts[2]] = module
            elif len(parts) == 2 and parts[0] == "U":
                used[module].add(parts[1])
    return objects, defined, used


def edges_of(defined, used):
    edges = collections.defaultdict(lambda: collections.defaultdict(set))
    for module, symbols in used.items():
        for sym in symbols:
            owner = defined.get(sym)
            if owner and owner != module:
                edges[module][owner].add(sym)
    return edges


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: layers.py OBJECT_DIR")
    # The detector must see a known circle, or a pass would mean nothing.
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    objects, defined, used = read_objects(sys.argv[1])
    if len(objects) < 20:
        sys.exit(f"layers: only {len(objects)} object files in {sys.argv[1]}: wrong directory?")
    edges = edges_of(defined, used)
    graph = {m: sorted(targets) for m, targets in edges.items()}
    bad = cycles(graph)
    for component in bad:
        print("layers: these modules call each other in a circle: " + ", ".join(component))
        for a in component:
            for b in component:
                if b in edges[a]:
                    syms = sorted(edges[a][b])
                    print(f"  {a} -> {b}: {', '.join(syms[:4])}{' ...' if len(syms) > 4 else ''}")
    if bad:
        sys.exit(1)
    print(f"layers: {len(objects)} modules, {sum(len(t) for t in graph.values())} dependencies, "
          "no circle")


if __name__ == "__main__":
    main()
