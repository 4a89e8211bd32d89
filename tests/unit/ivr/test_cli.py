"""``callcenter ivr validate`` and ``callcenter ivr simulate``, called as the shell would."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.cli import main
from tests.unit.ivr.catalogue import FIXTURES
from tests.unit.ivr.test_hotline import HOTLINE, ROOT, made_prompts

CONFIG = str(ROOT / "config" / "hotline.yaml")


def sounds(tmp_path: Path, prompts: dict[str, frozenset[str]]) -> str:
    for language, names in prompts.items():
        (tmp_path / language).mkdir(parents=True, exist_ok=True)
        for name in names:
            (tmp_path / language / f"{name}.wav").write_bytes(b"RIFF")
    return str(tmp_path)


def test_validate_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = sounds(tmp_path, made_prompts())
    argv = ["ivr", "validate", str(HOTLINE), "--config", CONFIG, "--sounds", folder]
    assert main(argv) == 0
    assert capsys.readouterr().out == f"{HOTLINE}: ok\n"


def test_validate_prints_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "x.yaml"
    script.write_text(
        "start: a\nnodes:\n  a: {type: enqueue, queue: billing, prompts: [hello]}\n"
        "  b: {type: hangup}\n"
    )
    folder = sounds(tmp_path / "sounds", {"zh": frozenset({"hello"})})
    assert main(["ivr", "validate", str(script), "--config", CONFIG, "--sounds", folder]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{script}:3:22: unknown queue 'billing'; known: complaints, products, repair",
        f"{script}:4:3: node 'b' is unreachable from 'a'",
    ]


def test_validate_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "validate", "no/such.yaml", "--config", CONFIG]) == 1
    assert capsys.readouterr().out.startswith("no/such.yaml: ")


def test_validate_with_allow_list_and_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sounds(tmp_path, {"zh": frozenset({"welcome", "menu", "thanks", "goodbye"})})
    every = FIXTURES / "good" / "every_node.yaml"
    base = ["ivr", "validate", str(every), "--config", CONFIG, "--sounds", folder]
    assert main(base) == 1
    out = capsys.readouterr().out
    assert "unknown document '101'" in out and "not on the transfer allow-list" in out
    extra = ["--document", "101", "--document", "102", "--allow-transfer", "+861012345678"]
    assert "unknown document" not in _run(base + extra, capsys)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main(argv)
    return capsys.readouterr().out


def test_simulate_prints_commands_and_path(capsys: pytest.CaptureFixture[str]) -> None:
    menu = FIXTURES / "good" / "menu.yaml"
    assert main(["ivr", "simulate", str(menu), "--keys", "9,2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "step menu",
        "Play prompt=callcenter/zh/menu digits=0123456789*# -> none",
        "WaitDigit timeout=4.5 -> 9",
        "step key:invalid:9",
        "Play prompt=callcenter/zh/invalid digits='' -> none",
        "Play prompt=callcenter/zh/menu digits=0123456789*# -> none",
        "WaitDigit timeout=4.5 -> 2",
        "step key:2",
        "step complaints",
        "Play prompt=callcenter/zh/thanks digits='' -> none",
        "step enqueue:complaints",
        "Enqueue queue=complaints priority=20 skills=[[complaints,3]] language=zh "
        "attributes=[[caller,13800000000],[language,zh]] -> none",
        "path: menu > key:invalid:9 > key:2 > complaints > enqueue:complaints",
    ]


def test_simulate_the_hotline_with_customers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        "customers:\n"
        "  - {id: C9, phone: '13900000000', account: '900900', tier: vip}\n"
        "http:\n"
        "  http://127.0.0.1:8090/tickets/status: {status: completed}\n"
    )
    argv = ["ivr", "simulate", str(HOTLINE), "--data", str(data), "--caller", "13900000000"]
    assert main([*argv, "--keys", "2,2"]) == 0
    out = capsys.readouterr().out
    assert "LookupCustomer by=caller_id value=13900000000 -> {account:900900," in out
    assert "Enqueue queue=complaints priority=10 " in out
    assert out.splitlines()[-1].endswith(
        "customer:found > complaint_tier > complaint_vip > enqueue:complaints"
    )
    assert main([*argv, "--keys", "1,5,12345678#,,3", "--at", "2026-11-23T19:59"]) == 0
    out = capsys.readouterr().out
    assert "HttpLookup url=http://127.0.0.1:8090/tickets/status" in out
    assert "StoreSurvey score=3 survey=satisfaction -> none" in out
    assert "step ticket_completed" in out


def test_simulate_after_hours(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ivr", "simulate", str(HOTLINE), "--keys", "1,1", "--at", "2026-11-23T20:00"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "step hours:closed" in out
    assert "RequestCallback number=13800000000 queue=repair reason=after_hours -> none" in out
    assert out == _run(argv, capsys)  # the same on every run


def test_simulate_refuses_an_unreadable_script(capsys: pytest.CaptureFixture[str]) -> None:
    bad = FIXTURES / "bad" / "missing_key.yaml"
    assert main(["ivr", "simulate", str(bad)]) == 1
    assert f"{bad}:4:3: missing key 'next'" in capsys.readouterr().err


def test_simulate_bad_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "simulate", str(HOTLINE), "--at", "tomorrow"]) == 2
    assert "simulate:" in capsys.readouterr().err
