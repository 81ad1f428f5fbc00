"""``make test-gpu`` refuses quickly and cleanly on a machine without an NVIDIA GPU."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _gpu_present() -> bool:
    smi = shutil.which("nvidia-smi")
    return smi is not None and subprocess.run([smi, "-L"], capture_output=True).returncode == 0


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
@pytest.mark.skipif(_gpu_present(), reason="an NVIDIA GPU is here: make test-gpu would run")
def test_make_test_gpu_without_nvidia_smi_fails_fast_and_creates_no_environment(tmp_path):
    # PATH holds only make itself, so nvidia-smi cannot be found wherever it is installed.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "make").symlink_to(shutil.which("make"))
    venv = ROOT / ".venv-gpu"
    existed = venv.exists()
    start = time.monotonic()
    result = subprocess.run(
        ["make", "-s", "test-gpu"],
        cwd=ROOT,
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert "make test-gpu: no NVIDIA GPU here (nvidia-smi found none)" in result.stderr
    assert elapsed < 10, f"make test-gpu took {elapsed:.1f} s to refuse"
    if not existed:
        assert not venv.exists(), "make test-gpu created .venv-gpu on a machine without a GPU"
