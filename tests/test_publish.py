"""`make publish` puts the built site on the gh-pages branch of a remote (README, "For
maintainers"). Its second half, `make push-site`, runs here against a bare repository in a
temporary folder, from a throwaway clone, so the course's own repository is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from course import ROOT

BIN = ROOT / ".venv" / "bin"


# Commits need an identity; the machine running the tests may have none configured.
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Course Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Course Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
}


def _git(*args: str, cwd: Path) -> str:
    run = subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _push_site(repo: Path, remote: str, site: Path) -> subprocess.CompletedProcess:
    """The target `make publish` ends with, run in `repo` with this Makefile."""
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(ROOT / "Makefile"),
            "push-site",
            f"BIN={BIN}",
            f"PUBLISH_REMOTE={remote}",
            f"SITE_DIR={site}",
        ],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def course_clone(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("make") is None or not (BIN / "ghp-import").exists():
        pytest.fail("make and .venv/bin/ghp-import are needed (make install puts ghp-import in)")
    bare = tmp_path / "host.git"
    _git("init", "--bare", "-q", str(bare), cwd=tmp_path)
    clone = tmp_path / "clone"
    _git("init", "-q", "-b", "main", str(clone), cwd=tmp_path)
    (clone / "README.md").write_text("a course\n")
    _git("add", "README.md", cwd=clone)
    _git("commit", "-q", "-m", "start", cwd=clone)
    _git("remote", "add", "origin", str(bare), cwd=clone)
    return clone, bare


def _fake_site(root: Path, text: str) -> Path:
    site = root / "_build" / "html"
    (site / "_static").mkdir(parents=True)
    (site / "wheels").mkdir()
    (site / "index.html").write_text(f"<html><body>{text}</body></html>")
    (site / "_static" / "course.css").write_text("body {}\n")
    (site / "wheels" / "rnnkit-0.1.0-py3-none-any.whl").write_bytes(b"PK")
    return site


def test_publish_puts_the_site_on_gh_pages_of_the_remote(course_clone, tmp_path):
    clone, bare = course_clone
    site = _fake_site(tmp_path / "first", "first")
    run = _push_site(clone, str(bare), site)
    assert run.returncode == 0, run.stdout + run.stderr
    files = set(_git("ls-tree", "-r", "--name-only", "gh-pages", cwd=bare).split())
    assert {"index.html", ".nojekyll", "_static/course.css"} <= files
    assert "wheels/rnnkit-0.1.0-py3-none-any.whl" in files
    assert _git("show", "gh-pages:index.html", cwd=bare).count("first") == 1
    # The course's own branch is untouched on the remote's side and in the clone.
    assert _git("branch", "--show-current", cwd=clone).strip() == "main"


def test_publishing_again_replaces_the_site(course_clone, tmp_path):
    clone, bare = course_clone
    assert _push_site(clone, "origin", _fake_site(tmp_path / "first", "first")).returncode == 0
    run = _push_site(clone, "origin", _fake_site(tmp_path / "second", "second"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "second" in _git("show", "gh-pages:index.html", cwd=bare)
    # One commit: old sites (and their PDFs) do not pile up in the host's history.
    assert _git("rev-list", "--count", "gh-pages", cwd=bare).strip() == "1"
