"""Find the submissions, grade them with parallel workers, show progress, sum up.

Each worker thread owns one sandboxed zygote and grades one submission at a time;
there are as many workers as CPU cores unless told otherwise. ``shard=(k, n)`` keeps
only the students whose stable hash is ``k`` modulo ``n``, so ``n`` hosts sharing one
PostgreSQL gradebook can split a class between them with any job runner.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from tqdm.auto import tqdm
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from . import preflight, report
from .config import Safegrade
from .converter import Outcome, SandboxedAutograde, share_gradebook_engines
from .execution import Limits
from .sandbox import Sandbox
from .worker import Worker

LOG = logging.getLogger("safegrade.autograde")


@dataclass
class Options:
    """What to grade and how.

    course: the course root (holding ``nbgrader_config.py``); assignments, students: empty
    for all; force: regrade what was graded already; workers: parallel sandboxes;
    db_url: overrides the gradebook URL of the config; shard: ``(index, count)``;
    limits: per-submission limits (None: from the config); sandbox: how workers start
    (the packages it shows come from the config); preload: what each sandbox imports
    (None: the config's ``Safegrade.preload``); progress: show a progress bar.
    """

    course: Path
    assignments: list[str] = field(default_factory=list)
    students: list[str] = field(default_factory=list)
    force: bool = False
    workers: int = os.cpu_count() or 1
    db_url: str | None = None
    shard: tuple[int, int] = (0, 1)
    limits: Limits | None = None
    sandbox: Sandbox = field(default_factory=Sandbox)
    preload: list[str] | None = None
    progress: bool = True


@dataclass
class Summary:
    """All outcomes, the seconds it took, and the submissions that hit an internal error;
    the submissions found ungradable before grading (not graded), the score table and the
    cells stopped in this run (:mod:`.report`)."""

    outcomes: list[Outcome]
    seconds: float
    errors: list[str]
    ungradable: list[preflight.Ungradable] = field(default_factory=list)
    rows: list[report.Row] = field(default_factory=list)
    stopped: list[report.Stopped] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def load_config(course: Path, db_url: str | None) -> Config:
    """The course's ``nbgrader_config.py`` (if any), with ``db_url`` overriding its gradebook."""
    config = Config()
    if (course / "nbgrader_config.py").exists():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course.resolve())
    if db_url:
        config.CourseDirectory.db_url = db_url
    return config


def limits_from(config: Config) -> Limits:
    """Per-cell timeout from the config (``ExecutePreprocessor.timeout``), like nbgrader."""
    timeout = config.get("Execute", {}).get("timeout") or config.get("ExecutePreprocessor", {}).get(
        "timeout"
    )
    return Limits(cell_timeout=float(timeout or 30))


def shard_of(student: str, count: int) -> int:
    """The shard a student belongs to: stable across hosts and runs."""
    return zlib.crc32(student.encode()) % count


def find_submissions(coursedir: CourseDirectory, options: Options) -> list[tuple[str, str]]:
    """(assignment, student) pairs under ``submitted/`` matching the options, sorted."""
    root = Path(coursedir.root) / coursedir.submitted_directory
    found = []
    for folder in sorted(root.glob("*/*")):
        student, assignment = folder.parent.name, folder.name
        if not folder.is_dir() or (options.assignments and assignment not in options.assignments):
            continue
        if options.students and student not in options.students:
            continue
        if shard_of(student, options.shard[1]) == options.shard[0]:
            found.append((assignment, student))
    return found


def autograde(options: Options) -> Summary:
    """Grade every matching submission into the gradebook; never stops at a bad one."""
    options.sandbox.check()
    share_gradebook_engines()
    config = load_config(options.course, options.db_url)
    config.Autograde.force = options.force
    coursedir = CourseDirectory(config=config)
    found = find_submissions(coursedir, options)
    everyone = find_submissions(coursedir, dataclasses.replace(options, assignments=[]))
    # Misnamed notebooks and unreleased assignments are reported, not graded.
    screen = preflight.screen(coursedir, found, {s for _, s in everyone})
    tasks = screen.gradable
    run = _Run(options, config, tasks)
    run.summary.ungradable = screen.ungradable
    started = time.monotonic()
    threads = [
        threading.Thread(target=run.work) for _ in range(max(1, min(options.workers, len(tasks))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.bar.close()
    run.summary.seconds = time.monotonic() - started
    graded = {(o.assignment, o.student) for o in run.summary.outcomes}
    run.summary.errors += [f"{s}/{a}: not graded" for a, s in tasks if (a, s) not in graded]
    report.collect(run.summary, coursedir, screen, run.limits.cell_timeout)
    return run.summary


class _Run:
    """What the worker threads share: the queue of submissions, the gradebook lock, the
    progress bar and the summary."""

    def __init__(self, options: Options, config: Config, tasks: list[tuple[str, str]]) -> None:
        self.options = options
        self.config = config
        course = Safegrade(config=config)
        self.settings = course.settings()
        self.preload = course.preload if options.preload is None else options.preload
        self.sandbox = dataclasses.replace(
            options.sandbox, packages=(*options.sandbox.packages, *course.packages)
        )
        self.limits = options.limits or limits_from(config)
        self.todo: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        for task in tasks:
            self.todo.put(task)
        self.summary = Summary([], 0.0, [])
        self.gradebook_lock = threading.Lock()
        self.report_lock = threading.Lock()
        self.bar = tqdm(
            total=len(tasks), unit="submission", disable=not options.progress or not tasks
        )

    def work(self) -> None:
        """One worker thread: start a sandbox, then grade submissions until none are left."""
        worker = Worker(self.sandbox, self.preload, self.settings)
        try:
            worker.start()
        except Exception as error:  # the other workers carry on with the queue, if they can
            with self.report_lock:
                message = f"a grading worker did not start: {error}"
                if message not in self.summary.errors:
                    self.summary.errors.append(message)
            return
        converter = SandboxedAutograde(
            CourseDirectory(config=self.config),
            worker,
            self.limits,
            self.gradebook_lock,
            config=self.config,
            log=LOG,
        )
        try:
            while True:
                try:
                    assignment, student = self.todo.get_nowait()
                except queue.Empty:
                    return
                self._report(_grade(converter, assignment, student))
        finally:
            worker.close()

    def _report(self, outcome: Outcome) -> None:
        with self.report_lock:
            self.summary.outcomes.append(outcome)
            self.bar.update()
            counts = report.counts(self.summary)
            self.bar.set_postfix(
                graded=counts[report.GRADED],
                ungradable=counts[report.UNGRADABLE],
                errors=counts["grader errors"],
            )


def _grade(converter: SandboxedAutograde, assignment: str, student: str) -> Outcome:
    try:
        return converter.grade(assignment, student)
    except Exception as error:  # an unexpected failure costs this submission only
        LOG.debug(traceback.format_exc())
        outcome = Outcome(assignment, student, status="error")
        outcome.problems.append(f"{type(error).__name__}: {error}")
        return outcome
