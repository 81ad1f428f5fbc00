"""``python -m safegrade.autograde``: the command behind ``make autograde``."""

from __future__ import annotations

import sys

# jsonschema (under nbformat) imports this optional IRI checker if it can, and it builds a
# parser at import time: 2 s of CPU per command for a check notebooks never need.
sys.modules.setdefault("rfc3987_syntax", None)

import argparse  # noqa: E402  (everything below may import jsonschema)
import logging  # noqa: E402
import os  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy.exc import SAWarning  # noqa: E402

from .execution import Limits  # noqa: E402
from .report import format_summary  # noqa: E402
from .sandbox import Sandbox, SandboxUnavailable  # noqa: E402
from .scheduler import Options, Summary, autograde, limits_from, load_config  # noqa: E402


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N such as 0/4, got {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"expected 0 <= K < N, got {text!r}")
    return index, count


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in its help, unless it has none or the help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], argparse.SUPPRESS) or "default:" in action.help:
            return action.help or ""
        return super()._get_help_string(action) or ""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m safegrade.autograde",
        description="Autograde nbgrader submissions in parallel, each in a sealed sandbox.",
        formatter_class=_Help,
    )
    parser.add_argument("assignments", nargs="*", help="assignments to grade (default: all)")
    parser.add_argument(
        "--student",
        action="append",
        default=[],
        help="only this student (repeatable; default: all)",
    )
    parser.add_argument("--force", action="store_true", help="regrade graded submissions")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="parallel sandboxes (cores)"
    )
    parser.add_argument(
        "--db-url",
        help="gradebook URL, e.g. postgresql://host/db (default: the config's db_url)",
    )
    parser.add_argument(
        "--shard", type=_shard, default=(0, 1), help="K/N: this host's part (default: 0/1, all)"
    )
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="course root")
    parser.add_argument(
        "--cell-timeout",
        type=float,
        help="seconds per cell (default: the config's ExecutePreprocessor.timeout)",
    )
    parser.add_argument(
        "--submission-timeout", type=float, default=600.0, help="seconds per submission"
    )
    parser.add_argument("--memory", type=int, default=2048, help="MiB per submission")
    parser.add_argument("--no-sandbox", action="store_true", help="trusted code only")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="show nbgrader's warnings")
    return parser.parse_args(argv)


def _limits(args: argparse.Namespace) -> Limits:
    timeout = args.cell_timeout or limits_from(load_config(args.course, None)).cell_timeout
    return Limits(
        cell_timeout=timeout,
        submission_timeout=args.submission_timeout,
        memory_bytes=args.memory << 20,
    )


def _print(summary: Summary) -> None:
    # Counts, the score table, stopped cells, ungradable files with their fix (.report).
    print(format_summary(summary))


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(levelname)s %(message)s")
    # nbgrader's gradebook code trips SQLAlchemy 2's autoflush warnings; they are noise here.
    warnings.filterwarnings("ignore", category=SAWarning)
    logging.getLogger("safegrade.autograde").setLevel(logging.WARNING if args.verbose else 60)
    options = Options(
        course=args.course.resolve(),
        assignments=args.assignments,
        students=args.student,
        force=args.force,
        workers=args.workers,
        db_url=args.db_url,
        shard=args.shard,
        limits=_limits(args),
        sandbox=Sandbox(enabled=not args.no_sandbox),
        progress=not args.no_progress,
    )
    try:
        os.chdir(options.course)
        summary = autograde(options)
    except SandboxUnavailable as error:
        print(f"autograde: {error}", file=sys.stderr)
        return 1
    _print(summary)
    return 1 if summary.errors or summary.count("error") else 0


if __name__ == "__main__":
    sys.exit(main())
