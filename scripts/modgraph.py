#!/usr/bin/env python3
"""The module graph of each crate's `src/`, read from the sources as text.

A node is a source file (its module path); an edge A -> B means a `use` or a
path in A names an item of module B (`crate::b::...`, `super::...`,
`self::...`). Edges between a module and its own ancestors or descendants
(`mod.rs` re-exporting a child, a child reaching `super::Shared`) are the
folder's own structure and are left out: a cycle here is between modules that
are not nested in one another.

  python3 scripts/modgraph.py            # edges per crate, then the cycles
  python3 scripts/modgraph.py --check    # exit 1 if any crate has a cycle

Test-only files (`tests.rs`, `tests_*.rs`, `*/tests/*`) are not nodes: a test
module reaches into what it tests by design.
"""
import os
import re
import sys

CRATES = ["core", "scenarios", "harness", "benches"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def module_path(src, path):
    rel = os.path.relpath(path, src)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    if parts and parts[0] == "bin":
        return None
    return tuple(parts)


def is_test_file(mod):
    return bool(mod) and (mod[-1] == "tests" or mod[-1].startswith("tests_") or "tests" in mod[:-1])


PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}\s*;", re.S)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def strip_cfg_test(text):
    # Drop `#[cfg(test)] mod x { ... }` blocks and `#[cfg(test)] mod x;`.
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*(\{|;)", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        if m.group(1) == ";":
            i = m.end()
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def resolve(base, kind, segs, modules, aliases=None, depth=0):
    if kind == "crate":
        target = list(segs)
    elif kind == "super":
        # `super::super::x` climbs one module a `super`
        b = list(base[:-1])
        s = list(segs)
        while s and s[0] == "super":
            b = b[:-1]
            s = s[1:]
        target = b + s
    elif kind == "self":
        target = list(base) + list(segs)
    else:
        # a `use` of a child module by its bare name (`use method::X` in lib.rs)
        target = list(base) + list(segs)
        if tuple(target[: len(base) + 1]) not in modules:
            return None
    # the longest prefix that is a module
    for n in range(len(target), -1, -1):
        if tuple(target[:n]) in modules:
            found = tuple(target[:n])
            # `crate::Method` where the crate root re-exports `method::Method`:
            # the reference is to the module the name comes from.
            if aliases and n < len(target) and depth < 8:
                alias = aliases.get((found, target[n]))
                if alias:
                    kind2, segs2 = alias
                    via = resolve(found, kind2, segs2 + target[n + 1 :], modules, aliases, depth + 1)
                    if via is not None:
                        return via
            return found
    return None


USE_RE = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S)


def use_aliases(mod, text):
    """The names a module brings in with `use` (and so may re-export):
    (module, name) -> (path kind, path segments)."""
    out = {}

    def walk(prefix, body):
        body = body.strip()
        m = re.match(r"^(.*?)::\{(.*)\}$", body, re.S)
        if m:
            pre = prefix + [x for x in m.group(1).split("::") if x]
            depth, cur, parts = 0, "", []
            for ch in m.group(2):
                if ch == "," and depth == 0:
                    parts.append(cur)
                    cur = ""
                    continue
                depth += {"{": 1, "}": -1}.get(ch, 0)
                cur += ch
            parts.append(cur)
            for part in parts:
                if part.strip():
                    walk(pre, part)
            return
        name_part = body.split(" as ")
        segs = prefix + [x for x in name_part[0].strip().split("::") if x]
        if not segs or segs[-1] in ("*", "self"):
            return
        alias = name_part[1].strip() if len(name_part) > 1 else segs[-1]
        if segs[0] in ("crate", "super", "self"):
            out[(mod, alias)] = (segs[0], segs[1:])
        else:
            out[(mod, alias)] = ("bare", segs)

    for m in USE_RE.finditer(text):
        walk([], m.group(1))
    return out


def related(a, b):
    return a[: len(b)] == b or b[: len(a)] == a


def crate_graph(crate):
    src = os.path.join(ROOT, crate, "src")
    files = {}
    for d, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(d, n)
                m = module_path(src, p)
                if m is not None:
                    files[m] = p
    modules = set(files)
    texts = {
        mod: strip_cfg_test(strip_comments(open(path, encoding="utf-8").read()))
        for mod, path in files.items()
        if not is_test_file(mod)
    }
    aliases = {}
    for mod, text in texts.items():
        aliases.update(use_aliases(mod, text))
    edges = {}
    for mod, text in texts.items():
        refs = []
        for g in USE_GROUP_RE.finditer(text):
            prefix = [s for s in g.group(2).split("::") if s]
            for item in re.split(r",", g.group(3)):
                item = item.strip().split(" as ")[0].strip()
                inner = re.sub(r"\{.*", "", item)
                segs = prefix + [s for s in inner.split("::") if s and s not in ("self", "*")]
                refs.append((g.group(1), segs))
        for m in PATH_RE.finditer(text):
            refs.append((m.group(1), [s for s in m.group(2).split("::") if s]))
        for kind, segs in refs:
            t = resolve(mod, kind, segs, modules, aliases)
            if t is None or t == mod or is_test_file(t) or related(mod, t):
                continue
            edges.setdefault(mod, set()).add(t)
    return modules, edges


def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "(root)"


def main():
    check = "--check" in sys.argv[1:]
    found = 0
    for crate in CRATES:
        modules, edges = crate_graph(crate)
        if not check:
            print(f"## {crate}: {len(modules)} modules, {sum(len(v) for v in edges.values())} edges")
            for a in sorted(edges):
                print(f"  {name(a)} -> {', '.join(name(b) for b in sorted(edges[a]))}")
        cycles = [(c, lambda a, b, c=set(c): a in c and b in c) for c in sccs(modules, edges)]
        # The same graph with each module folded into its top-level module
        # (`matrix::plan` into `matrix`): a cycle between folders.
        top = {}
        for a, bs in edges.items():
            for b in bs:
                if a[:1] != b[:1]:
                    top.setdefault(a[:1], set()).add(b[:1])
        known = {frozenset(m[:1] for m in c) for c, _ in cycles}
        for c in sccs({m[:1] for m in modules}, top):
            if frozenset(c) not in known:
                cycles.append((c, lambda a, b, c=set(c): a[:1] in c and b[:1] in c and a[:1] != b[:1]))
        for comp, inside in cycles:
            found += 1
            print(f"cycle in {crate}: {' <-> '.join(name(m) for m in comp)}")
            for a in sorted(edges):
                for b in sorted(edges[a]):
                    if inside(a, b):
                        print(f"    {name(a)} -> {name(b)}")
    if found == 0:
        print("no module cycles")
    return 1 if (check and found) else 0


if __name__ == "__main__":
    sys.exit(main())
