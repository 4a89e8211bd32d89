"""The composition root: builds every component from the validated settings and runs them.

How a call flows through the code:
1. Asterisk answers the hotline number (dialplans/) and runs ``AGI(agi://.../hotline)``.
2. :class:`~callcenter.asterisk.fastagi.FastAgiServer` accepts the connection (allow-listed
   peer, bounded headers) and routes ``hotline`` to an IVR flow, a generator that yields
   commands (:mod:`callcenter.ivr`); :mod:`callcenter.ivr.agi_driver` carries them out.
3. Meanwhile :class:`~callcenter.asterisk.ami.AmiClient` turns Asterisk's AMI events into
   telephony facts (:mod:`callcenter.telephony`) and publishes them on the bus.
4. :class:`~callcenter.calls.service.CallLedgerService` folds those facts, and what the IVR
   reports, into one ledger row per call with exactly one final outcome.
5. The aiohttp app (:mod:`callcenter.web`) serves health, the OpenAPI document and the API.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from callcenter.acd.call_control import AcdEventSource, AmiCallControl
from callcenter.acd.core import Acd
from callcenter.acd.model import (
    AcdEvent,
    AgentLogin,
    AgentPause,
    AgentState,
    AgentStateChanged,
    CallerArrived,
    CallerOutcome,
    OverflowKind,
    OverflowTarget,
    SendElsewhere,
)
from callcenter.acd.repository import SqlAgentSessionRepository
from callcenter.acd.service import AcdService, Published
from callcenter.acd.sessions import AgentSessionRecorder
from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.fastagi import FastAgiServer
from callcenter.bus import EventBus
from callcenter.callbacks.dialer import AmiCallbackDialer
from callcenter.callbacks.model import CallbackRequest
from callcenter.callbacks.repository import SqlCallbackRepository
from callcenter.callbacks.roster import AcdRoster
from callcenter.callbacks.service import CallbackService
from callcenter.calls.model import Outcome
from callcenter.calls.repository import SqlCallRepository
from callcenter.calls.service import CallLedgerService
from callcenter.clock import Clock, SystemClock
from callcenter.customers.history import CallHistory
from callcenter.customers.model import ContactKind
from callcenter.customers.repository import SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.desk.controls import DeskControls
from callcenter.desk.service import DeskService, PoppingCallControl
from callcenter.errors import CallcenterError, ConfigError, ConfigProblem
from callcenter.fod.dialer import AmiFaxDialer
from callcenter.fod.images import FaxImages
from callcenter.fod.mail import InboxMailer
from callcenter.fod.model import Job
from callcenter.fod.repository import ReceivedFax, SqlFaxRepository
from callcenter.fod.routes import RECEIVE_PATH as FAX_RECEIVE_PATH
from callcenter.fod.routes import SEND_PATH as FAX_SEND_PATH
from callcenter.fod.routes import FaxDesk
from callcenter.fod.service import FaxService
from callcenter.fod.settings import spool_folder
from callcenter.ivr.agi_driver import IvrDriver, IvrServices
from callcenter.ivr.http_lookup import AiohttpGetter
from callcenter.ivr.library import ScriptLibrary, catalogue_for
from callcenter.prompts.audio import SoxConverter
from callcenter.prompts.model import RecordingCodes
from callcenter.prompts.recorder import AGI_PATH as PROMPT_RECORDER_PATH
from callcenter.prompts.recorder import PromptRecorder
from callcenter.prompts.repository import PromptStore
from callcenter.prompts.service import PromptService, used_by_scripts
from callcenter.settings import Settings
from callcenter.stats.kpi import KpiSettings
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.service import StatsService
from callcenter.storage.db import Database
from callcenter.telephony import AmiLinkChanged, TelephonyEvent
from callcenter.users.model import TokenSigner
from callcenter.users.repository import SqlUserRepository
from callcenter.users.service import UserService
from callcenter.voicemail.delivery import CallbackSender, FeedSender, Sender, SmtpSender
from callcenter.voicemail.dispatcher import Dispatcher
from callcenter.voicemail.feed import Feed
from callcenter.voicemail.model import Channel, NewMessage
from callcenter.voicemail.phone import PhoneSender
from callcenter.voicemail.recorder import AGI_PATH as VOICEMAIL_PATH
from callcenter.voicemail.recorder import VoicemailRecorder
from callcenter.voicemail.repository import SqlVoicemailRepository
from callcenter.voicemail.retrieval import AGI_PATH as MAILBOX_BY_PHONE_PATH
from callcenter.voicemail.retrieval import MailboxByPhone
from callcenter.voicemail.service import VoicemailService
from callcenter.voicemail.settings import MailboxSettings
from callcenter.voicemail.store import MessageStore
from callcenter.web.app import build_web_app
from callcenter.web.health import Check

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.database = Database(settings.database)
        self.ledger = CallLedgerService(
            SqlCallRepository(self.database),
            self.clock,
            batch_window=settings.database.batch_window,
        )
        self.bus: EventBus[TelephonyEvent] = EventBus()
        self.bus.subscribe(self.ledger.submit)
        self.ami = AmiClient(settings.ami, self.clock, self.bus.publish)
        self.bus.subscribe(self._on_telephony)
        self.agent_sessions = SqlAgentSessionRepository(self.database)
        self.session_recorder = AgentSessionRecorder(
            self.agent_sessions, batch_window=settings.database.batch_window
        )
        self.customers = CustomerService(SqlCustomerRepository(self.database), self.clock)
        self.acd_events = AcdEventSource(self.ami, self.clock, self._on_acd_event)
        acd_core = Acd(settings.acd.queue_configs(), settings.acd.agent_configs())
        # The agents' desk: a screen-pop goes out before each ring (one owner of pops/desks).
        self.desk = DeskService(
            settings.desk,
            acd_core,
            self.acd_events.legs.caller_id,
            self.customers,
            self.ledger,
            self.clock,
        )
        # Closed calls into their customer's history (before the desk forgets the customer).
        self.call_history = CallHistory(
            self.customers,
            self.desk.customer_of,
            self.desk.searched,
            batch_window=settings.database.batch_window,
        )
        self.ledger.on_closed(self.call_history.call_closed)
        self.ledger.on_closed(self.desk.call_closed)
        # Callback tasks: offered on the desks of the queue's agents, dialled by AMI, escalated.
        roster = AcdRoster(acd_core)  # who serves which queue: callbacks and voicemail
        self.callbacks = CallbackService(
            SqlCallbackRepository(self.database),
            self.clock,
            settings=settings.callbacks,
            desks=self.desk,
            roster=roster,
            dialer=AmiCallbackDialer(
                self.ami, settings.callbacks.trunk, settings.callbacks.ring_timeout
            ),
        )
        self.desk.on_open(self.callbacks.open_offers)  # a desk that opens sees open tasks
        self.acd = AcdService(
            acd_core,
            PoppingCallControl(
                AmiCallControl(self.ami, self.acd_events, settings.acd.connect), self.desk
            ),
            self.clock,
            self._on_acd_outcome,
            self.acd_events.channel_of,
        )
        self.stats_log = SqlStatsRepository(self.database)
        self.stats = StatsService(
            self.stats_log,
            self.clock,
            settings.stats,
            _kpi(settings),
            self._live_state,
            batch_window=settings.database.batch_window,
        )
        self.ledger.on_closed(self.stats.submit)
        self._background: set[asyncio.Task[None]] = set()
        self._closers: list[Callable[[], None]] = []  # run at shutdown, after the tasks
        ivr = settings.ivr
        catalogue = catalogue_for(frozenset(settings.acd.queues), Path(ivr.sounds), ivr)
        self.scripts = ScriptLibrary(ivr, catalogue, self.clock)
        self.http_lookups = AiohttpGetter()
        # Voicemail: the engine records, stores and notifies (outbox) for configured mailboxes.
        asterisk_sounds = Path(ivr.asterisk_sounds) if ivr.asterisk_sounds else None
        self.voicemail_feed = Feed()
        self.voicemail = _voicemail(
            settings,
            self.database,
            asterisk_sounds,
            self.callbacks,
            self.voicemail_feed,
            self.clock,
            roster.queues_of,
            self.ami,
            self._closers,
        )
        self.voicemail_recorder = VoicemailRecorder(self.voicemail, self.customers, self.clock)
        # Fax on demand: the catalogue, faxes sent on the call or to a number (AMI Originate),
        # faxes received on the fax number.
        self.fax, self.fax_desk = _fax(
            settings, self.database, self.ami, self.customers, self.clock
        )
        self.fax.on_event(self._on_fax)
        if settings.fax.inbox_email_to and settings.voicemail.smtp.host:
            images = self.fax.images
            self.fax.mail_received_to(
                InboxMailer(
                    settings.voicemail.smtp,
                    settings.fax.inbox_email_to,
                    lambda fax_id: images.inbox_path(fax_id, "pdf"),
                )
            )
        self.voicemail.on_saved(self._on_voicemail)
        services = IvrServices(
            reports=self.ledger,
            customers=self.customers,
            callbacks=self.callbacks,
            http=self.http_lookups,
            clock=self.clock,
            transfer_numbers=frozenset(ivr.transfer_numbers),
            http_timeout_max=ivr.http_timeout_max,
            voicemail=self.voicemail_recorder,
            fax=self.fax_desk,
            handoff=self.desk,
        )
        # Prompts: uploads and recordings by phone go into ivr.sounds and Asterisk's copy.
        self.prompts = PromptService(
            PromptStore(Path(ivr.sounds), asterisk_sounds),
            SoxConverter(),
            RecordingCodes(),
            self.clock,
            used_by_scripts(self.scripts),
        )
        agi_routes = IvrDriver(self.scripts, services).handlers()
        reserved_paths = (PROMPT_RECORDER_PATH, VOICEMAIL_PATH, MAILBOX_BY_PHONE_PATH)
        for reserved in (*reserved_paths, FAX_SEND_PATH, FAX_RECEIVE_PATH):
            if reserved in agi_routes:
                problem = ConfigProblem(f"ivr.entries.{reserved}", "name reserved")
                raise ConfigError("ivr", [problem])
        agi_routes[PROMPT_RECORDER_PATH] = PromptRecorder(self.prompts).handle
        agi_routes[VOICEMAIL_PATH] = self.voicemail_recorder.handle
        agi_routes[MAILBOX_BY_PHONE_PATH] = MailboxByPhone(self.voicemail).handle
        agi_routes[FAX_SEND_PATH] = self.fax_desk.handle_send
        agi_routes[FAX_RECEIVE_PATH] = self.fax_desk.handle_receive
        self.fastagi = FastAgiServer(settings.fastagi, agi_routes)
        self.users = UserService(
            SqlUserRepository(self.database),
            TokenSigner(settings.http.session_signing_key()),
            self.clock,
            session_seconds=int(settings.http.session_hours * 3600),
        )
        # Desk call controls: an agent's hold, transfers, conference and recording, and a
        # supervisor's listen / whisper / barge, by AMI on the calls the ACD connected.
        self.desk_controls = DeskControls(
            self.ami, self.acd, self.acd_events, self.clock, ivr.transfer_numbers, self.desk
        )
        self.web = build_web_app(
            [t.get_secret_value() for t in settings.http.api_tokens],
            self.ledger,
            self.acd,
            self.callbacks,
            self.customers,
            self.scripts,
            [
                Check("ami", self._ami_health),
                Check("fastagi", self._fastagi_health),
                Check("database", self._database_health),
            ],
            prompts=self.prompts,
            stats=(self.stats, self.stats_log),
            ws_origins=settings.http.websocket_origins,
            voicemail=(self.voicemail, self.voicemail_feed),
            fax=self.fax,
            users=self.users,
            desk=self.desk,
            desk_controls=self.desk_controls,
        )
        self.http_port: int | None = None
        self.started = asyncio.Event()

    async def _ami_health(self) -> tuple[bool, dict[str, Any]]:
        return self.ami.connected, {"reconnects": self.ami.stats.reconnects}

    async def _fastagi_health(self) -> tuple[bool, dict[str, Any]]:
        stats = self.fastagi.stats
        return self.fastagi.bound_port is not None, {
            "port": self.fastagi.bound_port,
            "active": stats.active,
            "total": stats.total,
        }

    async def _database_health(self) -> tuple[bool, dict[str, Any]]:
        ok = await self.database.ping()
        return ok, {"ledger_backlog": self.ledger.backlog}

    def _on_acd_event(self, event: AcdEvent) -> None:
        if isinstance(event, CallerArrived):
            # Until the ACD decides otherwise, a caller who hangs up while waiting abandoned:
            # reported now, so the ledger knows it before Asterisk's Hangup arrives.
            self.ledger.report_outcome(event.call, Outcome.ABANDONED)
            self.desk.caller_arrived(event.call)
        self.acd.submit(event)

    def _live_state(self, now: datetime) -> dict[str, Any]:
        """Callers waiting and agents by state, per queue and overall, for live statistics."""
        views = self.acd.core.queues(now)
        queues: dict[str, dict[str, Any]] = {
            q.id: {
                "waiting": len(q.waiting),
                "longest_wait": round(q.longest_wait, 3),
                "estimated_wait": q.estimated_wait,
                "agents_by_state": dict(q.agents_by_state),
                "paused_by_reason": dict(q.paused_by_reason),
            }
            for q in views
        }
        agents = self.acd.core.agents()
        by_state = Counter(a.state.value for a in agents)
        paused = Counter(a.reason for a in agents if a.state is AgentState.PAUSED)
        return {
            "queues": queues,
            "waiting": sum(len(q.waiting) for q in views),
            "longest_wait": round(max((q.longest_wait for q in views), default=0.0), 3),
            "agents_by_state": {state.value: by_state[state.value] for state in AgentState},
            "paused_by_reason": dict(paused),
        }

    def _on_acd_outcome(self, event: Published) -> None:
        match event:
            case AgentStateChanged():
                self.desk.on_agent_state(event)
                self.session_recorder.record(event)
                self.stats.submit(event)
            case CallerOutcome():
                self.ledger.report_outcome(event.call, Outcome(event.outcome))
                self.stats.submit(event)
            case SendElsewhere(target=OverflowTarget(kind=OverflowKind.CALLBACK)):
                number, name = self.acd_events.legs.caller_id(event.call)
                self.callbacks.request(
                    CallbackRequest(
                        key=f"{event.call}:overflow",
                        number=number,
                        name=name,
                        call=event.call,
                        queue=event.queue,
                        source=f"overflow:{event.reason}",
                        note="",
                        requested_at=self.clock.now(),
                    )
                )

    def _on_voicemail(self, message: NewMessage) -> None:
        """A message left: in the customer's contact history (by the customer the recorder
        matched, else the caller's number)."""
        text = f"voicemail in {message.mailbox}, {message.duration:.0f} s"
        self.call_history.add(
            message.customer_id,
            message.caller,
            ContactKind.VOICEMAIL,
            message.created_at,
            message.id,
            text,
        )

    def _on_fax(self, event: Job | ReceivedFax) -> None:
        """A fax job's final state and a received fax: the customer's contact history, and a
        notice on every connected desk for a received fax."""
        if isinstance(event, ReceivedFax):
            text = f"fax received: {event.pages} pages from {event.remote_station or '?'}"
            self.call_history.add(
                None, event.caller, ContactKind.FAX, event.created_at, event.id, text
            )
            notice = {
                "id": event.id,
                "caller": event.caller,
                "pages": event.pages,
                "remote_station": event.remote_station,
                "status": event.status,
                "at": event.created_at.isoformat(),
            }
            self.desk.tell(self.desk.desks(), {"type": "fax_received", "fax": notice})
            return
        documents = ", ".join(event.documents)
        text = f"fax {event.status.value}: {documents} to {event.number}, {event.pages_sent} pages"
        at = event.finished_at or self.clock.now()
        self.call_history.add(event.customer_id, event.caller, ContactKind.FAX, at, event.id, text)

    def _on_telephony(self, event: TelephonyEvent) -> None:
        if isinstance(event, AmiLinkChanged) and event.up:
            task = asyncio.create_task(self._readopt())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _readopt(self) -> None:
        """After every AMI (re)connect: what the lost events would have said, the agents
        Asterisk shows talking, then the callers still waiting, with their enqueue time."""
        try:
            await self.acd_events.reconcile()
            for on_call in await self.acd.control_agents_on_call():
                self.acd.submit(on_call)
            for caller in await self.acd.control_waiting_callers():
                self.acd_events.track_caller(caller.call, caller.channel)
                self._on_acd_event(caller)
        except CallcenterError as exc:
            log.warning("acd: re-adoption after reconnect failed: %s", exc)

    async def _restore_agents(self) -> None:
        now = self.clock.now()
        for session in await self.agent_sessions.load_all():
            if session.logged_in:
                self.acd.submit(AgentLogin(session.agent, now))
                if session.paused:
                    self.acd.submit(AgentPause(session.agent, session.pause_reason, now))

    async def run(self) -> None:
        """Run until cancelled; every child task runs under one TaskGroup."""
        self.scripts.load_all()
        await self.database.migrate()
        await self.users.load()
        await self.stats.load_today()
        await self._restore_agents()
        await self.fax.sync_folder()
        runner = web.AppRunner(self.web, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.http.host, self.settings.http.port)
            await site.start()
            self.http_port = _bound_port(site)
            await self.fastagi.start()
            self.acd_events.start()
            # Start-up objects live for the whole run: moved out of the collector's reach, a
            # full collection no longer stalls the loop for tens of milliseconds mid-call.
            gc.collect()
            gc.freeze()
            async with asyncio.TaskGroup() as group:
                group.create_task(self.ledger.run(), name="ledger")
                group.create_task(self.session_recorder.run(), name="agent-sessions")
                group.create_task(self.callbacks.run(), name="callbacks")
                group.create_task(self.call_history.run(), name="call-history")
                group.create_task(self.voicemail.run(), name="voicemail")
                group.create_task(self.fax.run(), name="fax")
                group.create_task(self.fax.mail_forever(), name="fax-mail")
                group.create_task(self.scripts.watch(), name="ivr-scripts")
                group.create_task(self.stats.run(), name="stats")
                group.create_task(self.acd.run(), name="acd")
                group.create_task(self.ami.run(), name="ami")
                self.started.set()
        finally:
            self.acd_events.close()
            self.desk_controls.close()
            for task in self._background:
                task.cancel()
            await self.fastagi.stop()
            await self.http_lookups.close()
            await self.desk.close()
            for close in self._closers:
                close()
            await runner.cleanup()
            await self.database.close()


def _kpi(settings: Settings) -> KpiSettings:
    """The KPI choices: the stats section, each queue's own service-level threshold."""
    return KpiSettings(
        service_level_seconds=20.0,
        service_level_variant=settings.stats.service_level_variant,
        short_abandon_seconds=settings.stats.short_abandon_seconds,
        queue_service_level_seconds={
            name: queue.service_level_seconds for name, queue in settings.acd.queues.items()
        },
    )


def _voicemail(
    settings: Settings,
    database: Database,
    asterisk_sounds: Path | None,
    callbacks: CallbackService,
    feed: Feed,
    clock: Clock,
    queues_of: Callable[[str], frozenset[str]],
    ami: AmiClient,
    closers: list[Callable[[], None]],
) -> VoicemailService:
    """The voicemail service with its outbox: the websocket feed and callback tasks always,
    e-mail when ``voicemail.smtp.host`` is set, a call to the on-duty number of mailboxes that
    name one."""
    section = settings.voicemail
    repository = SqlVoicemailRepository(database)
    store = MessageStore(Path(section.store), asterisk_sounds)
    senders: dict[Channel, Sender] = {
        Channel.WEBSOCKET: FeedSender(feed.publish),
        Channel.CALLBACK: CallbackSender(callbacks),
    }
    if section.smtp.host:
        senders[Channel.EMAIL] = SmtpSender(section.smtp, store.path, section.api_url)
    if any(box.on_duty for box in section.mailboxes.values()):
        phone = PhoneSender(ami, store, section.on_duty_trunk, section.on_duty_ring)
        senders[Channel.PHONE] = phone
        closers.append(phone.close)
    dispatcher = Dispatcher(
        repository,
        senders,
        lambda name: section.mailboxes.get(name) or MailboxSettings(),
        clock,
        retry_min=section.retry_min,
        retry_max=section.retry_max,
        poll=section.poll_interval,
    )
    return VoicemailService(
        repository,
        store,
        section,
        clock,
        dispatcher,
        email=Channel.EMAIL in senders,
        queues_of=queues_of,
        phone=Channel.PHONE in senders,
    )


def _fax(
    settings: Settings,
    database: Database,
    ami: AmiClient,
    customers: CustomerService,
    clock: Clock,
) -> tuple[FaxService, FaxDesk]:
    """Fax on demand: images in the store, the spool shared with Asterisk, jobs sent by
    AMI Originate through the dialplan's fax route."""
    section = settings.fax
    images = FaxImages(
        Path(section.store),
        spool_folder(section, settings.ivr.asterisk_sounds),
        section.asterisk_spool,
    )
    dialer = AmiFaxDialer(ami, section.ring_timeout, section.send_timeout, section.station_id)
    service = FaxService(SqlFaxRepository(database), images, section, clock, dialer)
    return service, FaxDesk(service, customers, dialer)


def _bound_port(site: web.TCPSite) -> int | None:
    server = site._server  # aiohttp exposes no public accessor for the bound socket
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else None
