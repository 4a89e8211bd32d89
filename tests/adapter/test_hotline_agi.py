"""IVR scripts over the real FastAGI server, the Asterisk side played by the fake AGI client.

Each test runs a script through :class:`~callcenter.ivr.agi_driver.IvrDriver` and checks the
AGI commands Asterisk would have received, the path and outcome the ledger got, and what the
driver asked of the other services (customer look-ups, callbacks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from callcenter.asterisk.fastagi import FastAgiServer
from callcenter.callbacks.model import CallbackRequest
from callcenter.calls.model import Outcome
from callcenter.clock import FixedClock
from callcenter.ivr.agi_driver import IvrDriver, IvrServices
from callcenter.ivr.library import ScriptLibrary
from callcenter.ivr.settings import IvrSettings
from callcenter.ivr.validate import Catalogue
from callcenter.settings import FastAgiSettings
from tests.fakes.fake_agi import FakeAgiClient, Step, asterisk_env, step

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
LINKED = "1700000000.1"
REPO = Path(__file__).resolve().parents[2]
HOTLINE = REPO / "ivr" / "hotline.yaml"
GREETING = REPO / "tests" / "e2e" / "ivr" / "greeting.yaml"


@dataclass
class Reports:
    outcomes: list[Outcome] = field(default_factory=list)
    path: tuple[str, ...] = ()

    def report_outcome(self, linkedid: str, outcome: Outcome) -> None:
        assert linkedid == LINKED
        self.outcomes.append(outcome)

    def report_path(self, linkedid: str, path: tuple[str, ...]) -> None:
        self.path = path


@dataclass
class Customer:
    tier: str

    def attributes(self) -> dict[str, str]:
        return {"tier": self.tier, "name": "Wang"}


@dataclass
class Customers:
    by_number: dict[str, Customer] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def by_phone(self, number: str) -> Customer | None:
        self.asked.append(number)
        return self.by_number.get(number)

    async def by_account(self, account: str) -> Customer | None:
        self.asked.append(account)
        return None


@dataclass
class Callbacks:
    requests: list[CallbackRequest] = field(default_factory=list)

    def request(self, request: CallbackRequest) -> None:
        self.requests.append(request)


class NoHttp:
    async def get_json(
        self, url: str, params: Mapping[str, str], seconds: float
    ) -> dict[str, str] | None:
        return None


def library_for(script: Path, tmp: Path) -> ScriptLibrary:
    settings = IvrSettings(
        entries={"hotline": {"script": str(script)}},  # type: ignore[dict-item]
        versions=str(tmp / "versions"),
    )
    prompts = {
        lang: frozenset(p.stem for p in (REPO / "sounds" / lang).glob("*.wav"))
        for lang in ("en", "zh")
    }
    queues = frozenset({"repair", "products", "complaints"})
    catalogue = Catalogue(queues=queues, prompts=prompts)
    library = ScriptLibrary(settings, lambda: catalogue, FixedClock(T0))
    library.load_all()
    return library


async def run_call(
    script: Path,
    tmp: Path,
    steps: list[Step],
    customers: Customers | None = None,
    callerid: str = "13800138000",
) -> tuple[list[str], Reports, Customers, Callbacks]:
    reports, callbacks = Reports(), Callbacks()
    customers = customers or Customers()
    services = IvrServices(reports, customers, callbacks, NoHttp(), FixedClock(T0))
    driver = IvrDriver(library_for(script, tmp), services)
    server = FastAgiServer(FastAgiSettings(port=0), driver.handlers())
    await server.start()
    try:
        assert server.bound_port is not None
        env = asterisk_env(callerid=callerid, calleridname='evil"\\ ${SHELL} & <b>')
        received = await FakeAgiClient(server.bound_port, steps, env=env).run()
        await asyncio.sleep(0.05)
        return received, reports, customers, callbacks
    finally:
        await server.stop()


LINKEDID = step("GET VARIABLE", f"200 result=1 ({LINKED})")


def play(prompt: str, reply: str = "200 result=0 endpos=8000") -> Step:
    return step(f'STREAM FILE "callcenter/{prompt}"', reply)


def key(digit: str) -> str:
    return f"200 result={ord(digit)} endpos=100"


async def test_a_key_during_the_greeting_then_goodbye(tmp_path: Path) -> None:
    received, reports, _, _ = await run_call(
        GREETING,
        tmp_path,
        [
            LINKEDID,
            play("en/welcome", key("1")),
            play("en/goodbye"),
            step('SET VARIABLE "CC_HANDLED" "1"', "200 result=1"),
            step("HANGUP", "200 result=1"),
        ],
    )
    assert received[1].startswith('STREAM FILE "callcenter/en/welcome" "0123456789*#"')
    assert reports.path == ("script:hotline:1", "greeting", "key:1", "bye")
    assert reports.outcomes == [Outcome.COMPLETED_IN_IVR]


async def test_hanging_up_mid_greeting_is_clean_and_recorded_as_abandoned(tmp_path: Path) -> None:
    received, reports, _, _ = await run_call(
        GREETING,
        tmp_path,
        [
            LINKEDID,
            play("en/welcome", "200 result=-1 endpos=100"),
            step("NOOP", "HANGUP", "200 result=0"),
        ],
    )
    assert reports.path == ("script:hotline:1", "greeting")
    assert reports.outcomes == [Outcome.ABANDONED]
    assert received[-1] == "NOOP"  # nothing was sent after the hang-up


async def test_a_vip_complaint_is_handed_to_the_queue_with_its_priority(tmp_path: Path) -> None:
    customers = Customers({"13800138000": Customer("vip")})
    received, reports, customers, _ = await run_call(
        HOTLINE,
        tmp_path,
        [
            LINKEDID,
            play("zh/choose_language", key("2")),
            step('SET VARIABLE "CHANNEL(language)" "en"', "200 result=1"),
            play("en/main_menu", key("2")),
            play("en/connecting"),
            step('SET VARIABLE "__CC_QUEUE" "complaints"', "200 result=1"),
            step('SET VARIABLE "__CC_PRIORITY" "10"', "200 result=1"),
            step('SET VARIABLE "__CC_SKILLS" ""', "200 result=1"),
            step('SET VARIABLE "__CC_ENQUEUED"', "200 result=1"),
            step('SET VARIABLE "CC_NEXT" "queue"', "200 result=1"),
            step('SET VARIABLE "CC_HANDLED" "1"', "200 result=1"),
        ],
        customers,
    )
    assert customers.asked == ["13800138000"]
    assert received[-3] == f'SET VARIABLE "__CC_ENQUEUED" "{T0.timestamp():.3f}"'
    assert "HANGUP" not in received  # the dialplan takes the call to the queue
    assert reports.path[-3:] == ("complaint_tier", "complaint_vip", "enqueue:complaints")
    assert "customer:found" in reports.path
    assert reports.outcomes == []  # the ACD reports the call's outcome


async def test_invalid_keys_then_silence_reach_the_operator(tmp_path: Path) -> None:
    received, reports, _, _ = await run_call(
        HOTLINE,
        tmp_path,
        [
            LINKEDID,
            play("zh/choose_language", key("1")),
            step('SET VARIABLE "CHANNEL(language)" "zh"', "200 result=1"),
            play("zh/main_menu", key("7")),
            play("zh/invalid_choice"),
            play("zh/main_menu"),
            step("WAIT FOR DIGIT", "200 result=0"),
            play("zh/no_input"),
            play("zh/main_menu"),
            step("WAIT FOR DIGIT", "200 result=0"),
            play("zh/no_input"),
            play("zh/connecting"),
            *[step("SET VARIABLE", "200 result=1") for _ in range(6)],
        ],
    )
    assert reports.path[-6:] == (
        "main_menu",
        "key:invalid:7",
        "key:timeout",
        "key:timeout",
        "operator",
        "enqueue:repair",
    )
    assert received[-6:-2] == [
        'SET VARIABLE "__CC_QUEUE" "repair"',
        'SET VARIABLE "__CC_PRIORITY" "5"',
        'SET VARIABLE "__CC_SKILLS" ""',
        f'SET VARIABLE "__CC_ENQUEUED" "{T0.timestamp():.3f}"',
    ]
    assert received[-1] == 'SET VARIABLE "CC_HANDLED" "1"'
