"""The modules a Python plugin may import, found by reading its code (nothing is run).

Used by `sockbox python build`. componentize-py snapshots the interpreter after importing the
plugin at build time, and a module first imported later, while the plugin runs, is not there:
a library that imports `secrets` inside a function fails with ModuleNotFoundError. This lists
every module named by an import statement anywhere (inside functions too) in the plugin, in
the local and vendored modules it imports, transitively, so the build can import them all
first. Standard-library modules are listed, not followed.

    python3 python_imports.py ENTRY_MODULE SEARCH_DIR...

prints one module name per line, in the order found (`sockbox` among them when the plugin
imports it).
"""

import ast
import os
import sys

# Standard-library modules never imported for a plugin: they open windows, print, or are the
# test suite (a `test` package on the plugin's own path is followed like any other).
SKIP = {
    "__main__", "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test",
    "ensurepip", "venv", "pydoc", "pydoc_data", "lib2to3", "sockbox",
}
# Imported from C code, which no import statement shows: datetime.strptime and time.strptime
# import _strptime; the idna codec (str.encode("idna"), non-ASCII host names) is a module.
FROM_C = ["_strptime", "encodings.idna", "encodings.punycode"]
# Standard-library modules that import others inside their functions (certifi.where() reads its
# bundle through importlib.resources; importlib.metadata parses METADATA with email), imported
# when the plugin's code names the first. A name this CPython lacks is skipped by the build.
LAZY_STDLIB = {
    "importlib.resources": [
        "importlib.resources._adapters", "importlib.resources.readers", "importlib.readers",
        "importlib.resources._itertools", "importlib._bootstrap_external",
    ],
    "importlib.metadata": [
        "importlib.metadata._adapters", "importlib.metadata._meta", "importlib.metadata._text",
        "importlib.metadata._collections", "importlib.metadata._functools",
        "importlib.metadata._itertools", "email.parser", "email.feedparser", "email.message",
        "email.policy", "csv", "json",
    ],
}


def locate(name, roots):
    """The source file of module `name` under `roots` and whether it is a package."""
    parts = name.split(".")
    for root in roots:
        base = os.path.join(root, *parts)
        if os.path.isfile(base + ".py"):
            return base + ".py", False
        init = os.path.join(base, "__init__.py")
        if os.path.isfile(init):
            return init, True
    return None, False


def named_imports(path, module, is_package):
    """(name, certain) for each module an import statement in `path` names; `certain` is
    False for `from a import b`'s `a.b`, which may be an attribute rather than a module."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (SyntaxError, ValueError, OSError):
        return
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, True
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                if not base:
                    continue
                base = ".".join(base)
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module
            yield name, True
            for alias in node.names:
                if alias.name != "*":
                    yield f"{name}.{alias.name}", False


def main():
    if not hasattr(sys, "stdlib_module_names"):
        sys.exit("sockbox python build: finding imports needs python3 3.10 or newer")
    entry, roots = sys.argv[1], sys.argv[2:]
    stdlib = set(sys.stdlib_module_names)
    found, order = set(), []
    queue = [(entry, True)]
    while queue:
        name, certain = queue.pop(0)
        if name in found:
            continue
        path, is_package = locate(name, roots)
        if path is None:
            # A standard-library module, or nothing importable (an optional dependency).
            top = name.split(".")[0]
            if top == "sockbox" and "sockbox" not in found:
                # sockbox's own package (on the build's path, not followed): the build
                # imports it first when the plugin uses it.
                found.add("sockbox")
                order.append("sockbox")
            if certain and top in stdlib and top not in SKIP:
                found.add(name)
                order.append(name)
            continue
        found.add(name)
        if name != entry:
            order.append(name)
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
        parts = name.split(".")
        queue.extend((".".join(parts[:i]), True) for i in range(1, len(parts)))
        queue.extend(named_imports(path, name, is_package))
    for name, lazy in LAZY_STDLIB.items():
        if name in found:
            order.extend(m for m in lazy if m not in found)
    for name in FROM_C:
        if name not in found:
            order.append(name)
    print("\n".join(order))


main()
