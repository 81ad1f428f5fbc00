"""The zygote's clean-up between submissions, which empties the sandbox's /tmp.

A course cloned under /tmp has its .venv and rnnkit/ bound read-only inside that /tmp:
the clean-up must remove everything a submission left there but those binds and the
folders leading to them (which it cannot remove anyway, and must not die trying).
"""

from pathlib import Path

from safegrade.autograde.zygote import _empty, _mount_points


def test_emptying_keeps_binds_and_the_folders_that_lead_to_them(tmp_path: Path):
    venv = tmp_path / "course" / "repo" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!")
    (tmp_path / "course" / "repo" / "left-behind.txt").write_text("x")
    (tmp_path / "course" / "stray").mkdir()
    (tmp_path / "course" / "stray" / "file").write_text("x")
    (tmp_path / "submission-1").mkdir()
    (tmp_path / "top.txt").write_text("x")
    (tmp_path / "link").symlink_to(venv)

    _empty(str(tmp_path), keep={str(venv)})

    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    bound = ["course/repo/.venv", "course/repo/.venv/bin", "course/repo/.venv/bin/python"]
    assert left == ["course", "course/repo", *bound]


def test_emptying_without_binds_removes_everything(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.txt").write_text("x")
    (tmp_path / "d.txt").write_text("x")
    _empty(str(tmp_path), keep={"/proc", "/"})
    assert list(tmp_path.iterdir()) == []


def test_mount_points_are_read_from_this_namespace():
    points = _mount_points()
    assert "/" in points and "/proc" in points
