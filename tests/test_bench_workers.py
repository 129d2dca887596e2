"""The worker-model comparison (bench/workers.py) works end to end in smoke mode; numbers are not judged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_worker_comparison_smoke_run_reports_both_models(tmp_path: Path) -> None:
    output = tmp_path / "WORKERS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench.workers", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text(encoding="utf-8")
    assert "| scenario | sync | gevent |" in text and "smoke" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "scenario" not in line]
    assert len(rows) == 6
    assert all(len(row.strip("|").split("|")) == 3 for row in rows)
