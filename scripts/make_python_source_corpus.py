"""Write rnnkit/data/pysource_corpus.txt: source code of Python's standard library, as text.

    .venv/bin/python scripts/make_python_source_corpus.py              # rewrites the file
    .venv/bin/python scripts/make_python_source_corpus.py --out /tmp/pysource.txt

A character language model learns most from text with structure it can discover: string
literals that open and close, brackets that nest, indentation that grows and shrinks.
Karpathy's "unreasonable effectiveness" trained on the Linux kernel's C source for that
reason. The Python standard library ships its own source with every interpreter, so the
course can do the same with no download: for each module of ``MODULES``, in that order,
the script writes a line ``# ---- Lib/<file>`` and then the module's source file as it is,
tabs expanded to four spaces, only printable ASCII and newlines kept. The text stops at
the last whole module that fits in ``--max-bytes``.

The code is the Python Software Foundation's, under the PSF License Version 2
(https://docs.python.org/3/license.html); the first line of the file says so, and
:func:`rnnkit.tasks.python_source_corpus` drops it. The source differs between Python
versions (the shipped file was made with the one in its first line), which is why it is
generated once and committed rather than read at import time.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import platform
import string
import sysconfig
from pathlib import Path

# Pure-Python modules, one file each; the last ones, the held-out part of a 90/10 split,
# are modules the first ones do not contain.
MODULES = (
    "textwrap", "string", "heapq", "bisect", "fractions", "calendar", "glob", "fnmatch",
    "shlex", "difflib", "csv", "copy", "pprint", "dataclasses", "functools", "abc",
    "contextlib", "configparser", "queue", "tempfile", "shutil", "statistics", "random",
)  # fmt: skip
PRINTABLE = set(string.printable) - set("\t\r\x0b\x0c")
OUT = Path(__file__).resolve().parents[1] / "rnnkit" / "data" / "pysource_corpus.txt"


def module_text(module_name: str) -> str:
    """One module's source under its ``# ---- Lib/<file>`` line, cleaned."""
    path = Path(inspect.getsourcefile(importlib.import_module(module_name)))
    source = path.read_text(encoding="utf-8").replace("\t", "    ")
    clean = "".join(ch for ch in source if ch in PRINTABLE)
    lib = Path(sysconfig.get_paths()["stdlib"])
    return f"# ---- Lib/{path.relative_to(lib).as_posix()}\n{clean.rstrip()}\n\n"


def build(max_bytes: int) -> str:
    header = (
        f"# Source of the Python {platform.python_version()} standard library, "
        "(c) Python Software Foundation, PSF License Version 2; "
        "made by scripts/make_python_source_corpus.py\n"
    )
    parts, size = [], 0
    for module_name in MODULES:
        text = module_text(module_name)
        if size + len(text) > max_bytes:
            break
        parts.append(text)
        size += len(text)
    return header + "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--max-bytes", type=int, default=590_000)
    args = parser.parse_args()
    text = build(args.max_bytes)
    args.out.write_text(text, encoding="ascii")
    print(f"wrote {len(text)} characters, {len(set(text))} distinct, to {args.out}")


if __name__ == "__main__":
    main()
