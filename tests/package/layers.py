#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""layers.py OBJECT_DIR: the library's modules form layers with no circles.

A module is one src/*/*.c; module A depends on B when A's object file uses a
symbol B's defines (read with nm, so a call hidden behind a macro or an
inline function still counts). Any cycle fails the test, printed with the
symbols that make each edge, e.g. the one this test was written for:
messaging -> transport -> objstore_link -> objstore -> messaging.

The modules live in one folder per subsystem (src/core, src/table, ...), and
the subsystems form layers too: a folder whose module uses a module of
another folder depends on that folder, and no circle of folders is allowed
either, so that the tree shows the architecture as it is.
"""
import collections
import glob
import os
import subprocess
import sys


def read_objects(obj_dir):
    """Object files under obj_dir (one folder per subsystem), what each defines and uses."""
    defined, used = {}, collections.defaultdict(set)
    objects = sorted(glob.glob(os.path.join(obj_dir, "**", "*.o"), recursive=True))
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


def folders_of(objects, edges):
    """The subsystem graph: folder -> folder -> the module edges that make it."""
    folder = {os.path.basename(o).split(".")[0]: os.path.basename(os.path.dirname(o))
              for o in objects}
    graph = collections.defaultdict(lambda: collections.defaultdict(set))
    for a, targets in edges.items():
        for b in targets:
            if folder[a] != folder[b]:
                graph[folder[a]][folder[b]].add(f"{a} -> {b}")
    return graph


def report(kind, edges):
    """Prints each circle of edges (a -> b -> the symbols or module edges); True if any."""
    graph = {m: sorted(targets) for m, targets in edges.items()}
    bad = cycles(graph)
    for component in bad:
        print(f"layers: these {kind} call each other in a circle: " + ", ".join(component))
        for a in component:
            for b in component:
                if b in edges[a]:
                    why = sorted(edges[a][b])
                    print(f"  {a} -> {b}: {', '.join(why[:4])}{' ...' if len(why) > 4 else ''}")
    return bool(bad), sum(len(t) for t in graph.values())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: layers.py OBJECT_DIR")
    # The detector must see a known circle, or a pass would mean nothing.
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    objects, defined, used = read_objects(sys.argv[1])
    if len(objects) < 20:
        sys.exit(f"layers: only {len(objects)} object files in {sys.argv[1]}: wrong directory?")
    edges = edges_of(defined, used)
    folders = folders_of(objects, edges)
    bad_modules, n_modules = report("modules", edges)
    bad_folders, n_folders = report("subsystems (folders of src/)", folders)
    if bad_modules or bad_folders:
        sys.exit(1)
    print(f"layers: {len(objects)} modules, {n_modules} dependencies, no circle; "
          f"{len(set(os.path.dirname(o) for o in objects))} subsystems, {n_folders} dependencies, "
          "no circle")

if __name__ == "__main__":
    main()
