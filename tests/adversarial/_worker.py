"""Runs adversarial cases through the real CLI exit boundary, in one process, each under a time
bound; prints one JSON result per case.

Usage: python _worker.py CASES.json SECONDS_PER_CASE. Each case is ``{"name", "args", "env",
"cwd"}``. The caller sets the process's memory limit (RLIMIT_AS) and an overall timeout; here each
case gets a wall-clock alarm and its growth of the peak resident memory is measured. One process
for all cases keeps the corpus fast: importing the tool costs more than most cases.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from typing import Any


class CaseTimeout(BaseException):
    """Raised by the alarm: a BaseException, so no ``except Exception`` in the tool hides it."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise CaseTimeout


def run_case(case: dict[str, Any], seconds: float) -> dict[str, Any]:
    from click.testing import CliRunner
    from sloth_kubernetes.cli.main import run
    from sloth_kubernetes.secrets import forget_all

    saved = dict(os.environ)
    os.environ.update(case.get("env") or {})
    for name in case.get("unset") or ():
        os.environ.pop(name, None)
    os.chdir(case["cwd"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    runner = CliRunner()
    code: int | str
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with runner.isolation() as streams:
            try:
                code = run(case["args"])
            except CaseTimeout:
                code = "timeout"
            stdout, stderr = streams[0].getvalue(), streams[1].getvalue()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        os.environ.clear()
        os.environ.update(saved)
        forget_all()
    return {
        "name": case["name"],
        "code": code,
        "seconds": round(time.monotonic() - started, 3),
        "rss_growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,
        "stdout": stdout.decode("utf-8", "replace")[-2000:],
        "stderr": stderr.decode("utf-8", "replace")[-4000:],
    }


def main() -> None:
    cases_file, seconds = sys.argv[1], float(sys.argv[2])
    with open(cases_file, encoding="utf-8") as handle:
        cases = json.load(handle)
    signal.signal(signal.SIGALRM, _alarm)
    import sloth_kubernetes.cli.main  # noqa: F401 -- the import is not any case's cost

    for case in cases:
        print(json.dumps(run_case(case, seconds)), flush=True)


if __name__ == "__main__":
    main()
