"""Write rnnkit/data/pydoc_corpus.txt: docstrings of Python's standard library, as text.

    .venv/bin/python scripts/make_pydoc_corpus.py              # rewrites the shipped file
    .venv/bin/python scripts/make_pydoc_corpus.py --out /tmp/pydoc.txt

The course needs a real text that nobody here wrote, that is the same on every machine and
needs no download: the documentation the Python Software Foundation ships inside the
interpreter. For each module of ``MODULES``, in that order, the script writes the module's
docstring and then, sorted by name, those of its public classes, their public methods and
its public functions, each under a heading line with its qualified name (and signature
where Python knows it), the docstring indented by four spaces. Only printable ASCII and
newlines are kept, and the text stops at the last entry that fits in ``--max-bytes``.

The docstrings are the Python Software Foundation's, under the PSF License Version 2
(https://docs.python.org/3/license.html); the first line of the file says so, and
:func:`rnnkit.tasks.python_docs_corpus` drops it. The text depends on the Python version
(the shipped file was made with the one in the file's first line), which is why it is
generated once and committed rather than built at import time.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import platform
import string
from pathlib import Path

MODULES = (
    "json", "textwrap", "string", "collections", "functools", "itertools", "heapq", "bisect",
    "random", "statistics", "fractions", "datetime", "calendar", "pathlib", "shutil", "glob",
    "fnmatch", "re", "difflib", "csv", "argparse", "logging", "dataclasses", "enum", "copy",
    "pprint", "operator", "contextlib", "abc", "inspect", "tokenize", "base64", "zipfile",
    "gzip", "urllib.parse", "html", "queue", "tempfile", "struct", "uuid", "ipaddress",
    "shlex", "configparser", "threading", "subprocess", "typing",
)  # fmt: skip
PRINTABLE = set(string.printable) - set("\t\r\x0b\x0c")
OUT = Path(__file__).resolve().parents[1] / "rnnkit" / "data" / "pydoc_corpus.txt"


def _heading(name: str, obj: object) -> str:
    try:
        return name + str(inspect.signature(obj))
    except (TypeError, ValueError):
        return name


def _entry(name: str, obj: object) -> str | None:
    doc = inspect.getdoc(obj)
    if not doc or len(doc) < 40:  # a one-liner such as "Return self." says nothing
        return None
    doc = doc.replace("\t", "    ")
    clean = "".join(ch for ch in doc if ch in PRINTABLE)
    body = "\n".join(("    " + line).rstrip() for line in clean.splitlines())
    return f"{_heading(name, obj)}\n{body}\n"


def _public(namespace: object, module_name: str) -> list[tuple[str, object]]:
    found = []
    for name, value in sorted(vars(namespace).items()):
        if name.startswith("_"):
            continue
        if getattr(value, "__module__", None) != module_name:  # re-exports belong elsewhere
            continue
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            found.append((name, value))
    return found


def entries(module_name: str) -> list[str]:
    """The docstring entries of one module, in the order they are written."""
    module = importlib.import_module(module_name)
    out = [_entry(module_name, module)]
    for name, value in _public(module, module.__name__):
        qualified = f"{module_name}.{name}"
        out.append(_entry(qualified, value))
        if inspect.isclass(value):
            for attr, member in sorted(vars(value).items()):
                if not attr.startswith("_") and inspect.isfunction(member):
                    out.append(_entry(f"{qualified}.{attr}", member))
    return [e for e in out if e]


def build(max_bytes: int) -> str:
    header = (
        f"# Docstrings of the Python {platform.python_version()} standard library, "
        "(c) Python Software Foundation, PSF License Version 2; "
        "made by scripts/make_pydoc_corpus.py\n"
    )
    parts, size = [], 0
    for module_name in MODULES:
        for entry in entries(module_name):
            if size + len(entry) + 1 > max_bytes:
                return header + "\n".join(parts)
            parts.append(entry)
            size += len(entry) + 1
    return header + "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--max-bytes", type=int, default=200_000)
    args = parser.parse_args()
    text = build(args.max_bytes)
    args.out.write_text(text, encoding="ascii")
    print(f"wrote {len(text)} characters, {len(set(text))} distinct, to {args.out}")


if __name__ == "__main__":
    main()
