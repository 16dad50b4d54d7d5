"""Every ```python block of README.md and exported_models/README.md runs as written.

Each block runs in a fresh interpreter from an empty working directory that holds only the
shipped `exported_models/` (its entries linked, so whatever a block writes stays in the
temporary directory), as a user would run it from the root of a clone. A block whose first
line is a `# slow: <why>` comment (visible in the docs) trains a model and runs only with
`pytest -m slow`; every other block runs in the default test run.
"""

import os
import re
import subprocess
import sys

import pytest

DOCS = ("README.md", os.path.join("exported_models", "README.md"))
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SLOW = "# slow:"


def python_blocks(root):
    """(doc, line, code) of every ```python block of the docs of the checkout at `root`."""
    for doc in DOCS:
        text = open(os.path.join(root, doc), encoding="utf-8").read()
        for match in PYTHON_BLOCK.finditer(text):
            yield doc, text.count("\n", 0, match.start()) + 2, match.group(1)


def pytest_generate_tests(metafunc):
    if {"doc", "line", "code"} <= set(metafunc.fixturenames):
        metafunc.parametrize("doc,line,code", [
            pytest.param(doc, line, code, id=f"{doc}:{line}", marks=[pytest.mark.slow] if code.startswith(SLOW) else [])
            for doc, line, code in python_blocks(metafunc.config.rootpath)])


def test_the_docs_have_python_blocks_and_most_run_by_default(repo_root):
    blocks = list(python_blocks(repo_root))
    cheap = [b for b in blocks if not b[2].startswith(SLOW)]
    assert {doc for doc, _, _ in cheap} == set(DOCS) and len(cheap) >= 3, blocks
    for doc, line, code in blocks:  # a marker elsewhere than the first line would be ignored
        assert SLOW not in code.split("\n", 1)[-1], f"{doc}:{line}: '{SLOW}' must be the block's first line"


def test_python_block_runs_as_written(doc, line, code, tmp_path, subprocess_env, repo_root):
    shipped = tmp_path / "exported_models"
    shipped.mkdir()
    for name in os.listdir(os.path.join(repo_root, "exported_models")):
        (shipped / name).symlink_to(os.path.join(repo_root, "exported_models", name))
    before = set(os.listdir(os.path.join(repo_root, "exported_models")))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env=subprocess_env(), timeout=1800)
    assert proc.returncode == 0, f"{doc}:{line} failed:\n{proc.stderr[-3000:]}"
    assert set(os.listdir(os.path.join(repo_root, "exported_models"))) == before  # nothing written to the clone


TABLE_DOCS = DOCS + (os.path.join("tools", "BENCHMARKS.md"),)
SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


def table_cells(line):
    return len(re.split(r"(?<!\\)\|", line.strip())) - 2


@pytest.mark.parametrize("doc", TABLE_DOCS)
def test_markdown_tables_render(doc, repo_root):
    """Each table is a header, a separator row and rows of the header's width: a pasted table
    with literal "\\n" or a lost separator renders as one line of text."""
    lines = open(os.path.join(repo_root, doc), encoding="utf-8").read().split("\n")
    start = None
    for i, line in enumerate(lines + [""]):
        if line.startswith("|") and start is None:
            start = i
        elif not line.startswith("|") and start is not None:
            table, start = lines[start:i], None
            where = f"{doc}:{i - len(table) + 1}"
            assert "\\n" not in table[0], f"{where}: a literal \\n in a table"
            assert len(table) >= 2 and SEPARATOR.match(table[1]), f"{where}: no |---| row under the header"
            width = table_cells(table[0])
            bad = [j + i - len(table) + 1 for j, row in enumerate(table) if table_cells(row) != width]
            assert not bad, f"{where}: rows of another width than the header's {width} cells at lines {bad}"
