"""Operation tests in pyinfra's style: arguments + faked facts in, expected commands out.

One JSON file per case under ops/<operation>/: ``args`` (the operation's arguments), ``facts``
(fields of NodeFacts overriding a Debian 12 systemd VM, prepare_testdata.VM_FACTS), ``commands``
(exactly what the operation yields, in order; empty means "no change").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prepare_testdata import facts_from
from sloth_kubernetes.remote.prepare import operations

CASES = sorted((Path(__file__).parent / "ops").glob("*/*.json"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_operation(case: Path) -> None:
    data = json.loads(case.read_text())
    operation = getattr(operations, case.parent.name)
    commands = [
        str(command)
        for command in operation._inner(facts=facts_from(data["facts"]), **data["args"])
    ]
    assert commands == data["commands"]


def test_every_operation_has_cases() -> None:
    tested = {case.parent.name for case in CASES}
    defined = {
        name
        for name, value in vars(operations).items()
        if callable(value) and hasattr(value, "_inner")
    }
    assert defined <= tested, f"operations without data-file cases: {sorted(defined - tested)}"
