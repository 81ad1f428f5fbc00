"""What a submission's code may not do in the grading child: an audit hook and a thread rule.

The student's process holds the grader's cell runner and, for an assignment graded in one
process, the checks too, so code that can find the grader's objects can change them. Two
routes to them are closed here:

- **Enumerating the process.** ``gc.get_objects``, ``gc.get_referrers`` and
  ``gc.get_referents`` list every object in the process, and ``sys._current_frames`` every
  thread's stack. An audit hook (PEP 578), added once before the first cell and impossible
  to remove, refuses them.
- **Threads.** A thread started by one cell could go on running beside the grader and undo,
  between two of its lines, what the grader restored. After every cell the child counts
  the Python threads still running (``_thread._count``, a counter kept by the
  interpreter); if any are left after a second's grace, the child ends itself and the
  grader reruns the notebook without that cell (:meth:`.kernel.CellRunner._guarded`).
  tqdm's monitor thread is switched off here, so progress bars start none.

The stack's frames (``sys._getframe`` and a frame's ``f_back``, which Python cannot
audit) and ``ctypes`` (whose memory functions are not audited) stay open here; they are
why test cells run in another process than the student's code (:mod:`.split`), where
these rules guard what still runs beside it.
"""

from __future__ import annotations

import sys

#: Audit events refused outright in the grading child.
REFUSED = frozenset(
    {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames"}
)


class ContainmentError(RuntimeError):
    """Raised in a student's code that tried something the grading child refuses."""


def install() -> None:
    """Add the audit hook and switch off tqdm's monitor (once per grading child, before
    the first cell). The hook keeps what it needs in its closure, and nothing else refers
    to it, so a cell can neither reach it nor change the module to switch it off."""
    refused, error = REFUSED, ContainmentError

    def hook(event: str, args: tuple) -> None:
        if event in refused:
            raise error(
                f"{event} is not available while a notebook is graded: the grader's own "
                "objects live in this process."
            )

    sys.addaudithook(hook)
    quiet_tqdm()


def quiet_tqdm() -> None:
    """No monitor thread for tqdm's progress bars (it would outlive every cell)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return
    tqdm.monitor_interval = 0
