"""The package's shape: imports run one way (primitives -> models -> export -> runs -> cli), no
cycle, no re-export shim, and the module paths of earlier versions still import."""

import ast
import os
import subprocess
import sys


#: The layers, lowest first: a module may import from its own layer and the ones below it.
LAYERS = (
    ("ganzoo.errors", "ganzoo.fileio", "ganzoo.config", "ganzoo.presets", "ganzoo.losses", "ganzoo.augment",
     "ganzoo.layers", "ganzoo.images", "ganzoo.labels", "ganzoo.data", "ganzoo.metrics"),
    ("ganzoo.models",),
    ("ganzoo.export",),
    ("ganzoo.runs",),
    ("ganzoo.cli", "ganzoo.__main__"),
)


def _modules(repo_root):
    mods = {}
    for directory, _, files in os.walk(os.path.join(repo_root, "ganzoo")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                module = os.path.relpath(path[:-3], repo_root).replace(os.sep, ".").removesuffix(".__init__")
                mods[module] = path
    return mods


def _imports(mods):
    """{module: {ganzoo modules it imports, at any depth in the file}}."""
    graph = {}
    for module, path in mods.items():
        found = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in mods else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[module] = {m for m in found if m in mods and m != module}
    return graph


def _layer(module):
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def test_every_module_has_a_layer(repo_root):
    unplaced = [m for m in _modules(repo_root) if m != "ganzoo" and _layer(m) is None]
    assert not unplaced, f"modules outside the layers of tests/test_layout.py: {unplaced}"


def test_imports_run_one_way(repo_root):
    graph = _imports(_modules(repo_root))
    upward = [f"{m} imports {d}" for m, deps in graph.items() if m != "ganzoo" for d in deps
              if d != "ganzoo" and _layer(d) > _layer(m)]
    assert not upward, "imports against the layer order:\n" + "\n".join(sorted(upward))
    root = [m for m, deps in graph.items() if m != "ganzoo" and "ganzoo" in deps]
    assert not root, f"modules importing the package root (import the module that defines the name): {root}"


def test_no_import_cycle(repo_root):
    graph = _imports(_modules(repo_root))
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_no_reexport_shims(repo_root):
    """Only a package's __init__ may import a name for others to import from it."""
    shims = []
    for module, path in _modules(repo_root).items():
        if path.endswith("__init__.py"):
            continue
        for number, line in enumerate(open(path), 1):
            if "noqa: F401" in line and line.lstrip().startswith("from ganzoo"):
                shims.append(f"{path}:{number}")
    assert not shims, shims


#: Old module paths, their new modules, and a name to import through each.
MOVED = [
    ("ganzoo.training", "ganzoo.runs.train", "train"),
    ("ganzoo.callbacks", "ganzoo.runs.callbacks", "NaNGuard"),
    ("ganzoo.tensorboard_logging", "ganzoo.runs.callbacks.tensorboard", "TensorBoardLogger"),
    ("ganzoo.event_writer", "ganzoo.runs.callbacks.event_writer", "EventWriter"),
    ("ganzoo.checkpoints", "ganzoo.runs.checkpoints", "load_newest_checkpoint"),
    ("ganzoo.run_dir", "ganzoo.runs.files", "RunLock"),
]


def test_old_module_paths_import_with_a_warning(repo_root):
    """One fresh interpreter (a module already imported would not warn again)."""
    code = "import importlib, warnings\n"
    for old, new, name in MOVED:
        code += (f"with warnings.catch_warnings(record=True) as caught:\n"
                 f"    warnings.simplefilter('always')\n"
                 f"    from {old} import {name} as a\n"
                 f"from {new} import {name} as b\n"
                 f"print([str(w.message) for w in caught if w.category is DeprecationWarning], a is b)\n")
    env = {**os.environ, "PYTHONPATH": repo_root}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        f"{[f'{old} moved to {new}; import it from there.']} True" for old, new, _ in MOVED]


def test_every_package_file_is_tracked(repo_root):
    """A .gitignore pattern meant for run directories once kept new files of ganzoo/runs/ out of
    the repository: a clean clone could not import them."""
    if not os.path.isdir(os.path.join(repo_root, ".git")):
        return  # an installed copy or an archive: nothing to compare
    tracked = subprocess.run(["git", "ls-files", "ganzoo"], cwd=repo_root, capture_output=True, text=True,
                             check=True).stdout.split()
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *[p for p in _modules(repo_root).values()]],
                             cwd=repo_root, capture_output=True, text=True).stdout.split()
    assert not ignored, f"package files that .gitignore keeps out of the repository: {ignored}"
    assert tracked, "git ls-files lists no file of ganzoo/"
