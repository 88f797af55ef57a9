"""Plume at département scale: several webhook instances on PostgreSQL behind a load balancer.

    python bench/scale.py                                  # every scenario
    python bench/scale.py --scenario throughput --patrons 200 --questions 5
    python bench/scale.py --scenario capacity,rolling
    python bench/scale.py --database-url postgresql://postgres@127.0.0.1/plume_bench

The Bot API stand-in runs in this process, in webhook mode: it posts each update to its own
load balancer (``/lb/telegram``), which spreads them round-robin over the instances, each a
real ``python -m bot run`` subprocess (``PLUME_WEBHOOK_URL`` = the balancer, its own
``PLUME_WEBHOOK_LISTEN``). The database is PostgreSQL (``--database-url``, default
``plume_prod_webhook_bench`` on the local server, created if missing), migrated and loaded
with Plume's demo network once, its update/conversation tables emptied before each run.
Patrons ask the held-out questions (``bench/questions-heldout.jsonl``, the real search path:
an answer card, or "not found" with a handover draft); each asks, waits for the answer, asks
the next. The stand-in's own rate limits are off: these runs measure Plume.

Scenarios (``--scenario a,b`` or ``all``):

``throughput``  as deployed (PTB's 30/s limiter on replies, per instance): one instance in
                polling mode (the baseline), then 1, 2 and 3 webhook instances; answers per
                second and latency from the question to its answer, p50/p95/p99.
``capacity``    the same with the reply limiter lifted (``PLUME_REPLY_RATE_LIMIT=false``):
                what the bot itself can do (target: ≥ 200 answers/s with 2 instances).
                Beside each figure, the CPU it cost per answer: the instances', this
                process's (stand-in, balancer, patrons), the database backends', the
                database's transactions per answer, and the other work the machine did
                meanwhile (a shared host): where the cores went.
``rolling``     2 webhook instances under traffic (``/whoami``: exactly one answer each)
                while a broadcast (``--rolling-audience``) goes out through the outbox;
                halfway each is replaced in turn (start the new one, wait for its /healthz,
                SIGTERM the old one): updates lost (never handled), answers and broadcast
                messages lost or doubled, SIGTERM-to-exit times.

Other scenarios plug in through ``SCENARIOS`` (name → coroutine taking the ``Bench``).
The machine is shared: the load average is printed beside the figures, and this process
(stand-in, balancer, 200 simulated patrons) competes with the instances for the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from broadcast import query as scalar  # noqa: E402 (one SQL count, shared with bench/broadcast.py)

TOKEN = "123456:BENCH-SCALE"
SECRET = "bench-scale-secret"
FIRST_PATRON = 20_000_000
QUESTIONS = ROOT / "bench" / "questions-heldout.jsonl"
DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/plume_prod_webhook_bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- the instances -----------------------------------------------------------------------------


@dataclass
class Instance:
    """One ``python -m bot run`` subprocess, in webhook mode behind the balancer or polling."""

    bench: Bench
    name: str
    webhook: bool = True
    limiter: bool = True
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    stop_seconds: float | None = None

    @property
    def listen_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        bench = self.bench
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PLUME_", "TELEGRAM_"))},
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": bench.standin.base_url,
            "DATABASE_URL": bench.database_url,
            "PLUME_LOG_LEVEL": "WARNING",
            "PLUME_REPLY_RATE_LIMIT": "true" if self.limiter else "false",
            "PYTHONPATH": str(ROOT),
        }
        self.port = free_port()
        if self.webhook:
            env["PLUME_WEBHOOK_URL"] = f"{bench.standin.balancer_url}/telegram"
            env["PLUME_WEBHOOK_LISTEN"] = f"127.0.0.1:{self.port}"
            env["PLUME_WEBHOOK_SECRET"] = SECRET
        else:
            env["PLUME_METRICS_LISTEN"] = f"127.0.0.1:{self.port}"
        log = (bench.workdir / f"{self.name}.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=bench.workdir, env=env, stdout=log, stderr=log
        )
        await self.wait_healthy()
        if self.webhook:
            bench.standin.balancer.add(self.listen_url)

    async def wait_healthy(self, seconds: float = 120.0) -> None:
        import aiohttp

        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise SystemExit(f"{self.name} exited ({self.process.returncode}): see logs")
                try:
                    async with http.get(f"{self.listen_url}/healthz") as answer:
                        if answer.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise SystemExit(f"{self.name} not healthy after {seconds:.0f} s")

    async def metrics(self) -> str:
        import aiohttp

        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.listen_url}/metrics") as answer,
        ):
            return await answer.text()

    async def stop(self) -> None:
        """SIGTERM, then the time it took to exit."""
        if self.process is None or self.process.returncode is not None:
            return
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.stop_seconds = time.monotonic() - began
        if self.webhook:
            self.bench.standin.balancer.remove(self.listen_url)


# -- the bench ---------------------------------------------------------------------------------


@dataclass
class Cpu:
    """CPU seconds so far, by who used them."""

    bot: float = 0.0  # the instances, together
    bench: float = 0.0  # this process: stand-in, balancer, simulated patrons
    postgres: float = 0.0  # the PostgreSQL backends connected to the bench database
    machine: float = 0.0  # every core of the machine busy (other work included)
    transactions: int = 0  # committed and rolled back in the bench database

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(
            self.bot - other.bot,
            self.bench - other.bench,
            self.postgres - other.postgres,
            self.machine - other.machine,
            self.transactions - other.transactions,
        )


@dataclass
class Traffic:
    asked: int = 0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    missing: int = 0
    seconds: float = 0.0
    cpu: Cpu = field(default_factory=Cpu)  # used during the traffic

    def per_answer(self, seconds: float) -> float:
        """Milliseconds of ``seconds`` (of CPU) per answer."""
        return 1000 * seconds / self.answered if self.answered else float("nan")

    @property
    def cpu_ms_per_answer(self) -> float:
        return self.per_answer(self.cpu.bot)

    @property
    def others_cpu(self) -> float:
        """CPU seconds the machine spent on anything else (other work on a shared host)."""
        cpu = self.cpu
        return max(0.0, cpu.machine - cpu.bot - cpu.bench - cpu.postgres)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


@dataclass
class Bench:
    args: argparse.Namespace
    database_url: str
    workdir: Path
    questions: list[str]
    standin: object = None
    instances: list[Instance] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    async def fresh_standin(self) -> None:
        from bot.standin import BotAPIStandin

        if self.standin is not None:
            await self.standin.stop()  # type: ignore[attr-defined]
        standin = BotAPIStandin(token=TOKEN, bot_username="plume_scale_bot")
        await standin.start()
        self.standin = standin

    async def reset(self) -> None:
        """A fresh stand-in (update ids from 1) and empty update/conversation tables."""
        for instance in self.instances:
            await instance.stop()
        self.instances = []
        await self.fresh_standin()
        await execute(
            self.database_url,
            "TRUNCATE handled_updates, conversation_states, person_state, handover_questions "
            "CASCADE",
        )

    async def start(self, count: int, *, webhook: bool = True, limiter: bool = True) -> None:
        for _ in range(count):
            instance = Instance(
                self, f"{'web' if webhook else 'poll'}-{len(self.instances) + 1}", webhook, limiter
            )
            await instance.start()
            self.instances.append(instance)

    async def cpu_seconds(self) -> Cpu:
        """CPU used so far: by the instances, this process, the database's backends, the
        machine; and the database's transactions."""
        import psutil

        def used(process: psutil.Process) -> float:
            try:
                times = process.cpu_times()
            except psutil.Error:
                return 0.0
            return float(times.user + times.system)

        def backends() -> float:
            # a backend's title names its database: "postgres: [cluster:] user database
            # host(port) state"; only a local server's (the bench's default) can be read
            total = 0.0
            for process in psutil.process_iter(["cmdline"]):
                title = " ".join(process.info["cmdline"] or []).split()
                if title[:1] == ["postgres:"] and database in title[1:4]:
                    total += used(process)
            return total

        from sqlalchemy.engine import make_url

        database = make_url(self.database_url).database or ""
        instances = sum(used(psutil.Process(i.process.pid)) for i in self.instances if i.process)
        machine = psutil.cpu_times()
        transactions = await scalar(
            self.database_url,
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()",
        )
        return Cpu(
            bot=instances,
            bench=used(psutil.Process()),
            postgres=backends(),
            machine=machine.user + machine.system + machine.nice + machine.irq + machine.softirq,
            transactions=int(transactions or 0),
        )

    def patrons(self, count: int):  # type: ignore[no-untyped-def]
        standin = self.standin
        return [
            standin.user(FIRST_PATRON + i, first_name=f"P{i}", language_code="fr")  # type: ignore[attr-defined]
            for i in range(count)
        ]

    async def traffic(
        self,
        patrons: list,
        per_patron: int,
        text_of: Callable[[int, int], str],
        during: Callable[[], Awaitable[None]] | None = None,
    ) -> Traffic:
        """Each patron asks ``per_patron`` times, one after the other; all patrons at once."""
        from bot.standin import StandinTimeout

        figures = Traffic()

        async def patron(index: int, person) -> None:  # type: ignore[no-untyped-def]
            for step in range(per_patron):
                began = time.monotonic()
                figures.asked += 1
                await person.send(text_of(index, step))
                try:
                    await person.next_message(timeout=self.args.answer_timeout)
                except StandinTimeout:
                    figures.missing += 1
                    continue
                figures.answered += 1
                figures.latencies.append(time.monotonic() - began)

        began = time.monotonic()
        cpu_before = await self.cpu_seconds()
        talking = asyncio.gather(*(patron(i, p) for i, p in enumerate(patrons)))
        if during is not None:
            await during()
        await talking
        figures.seconds = time.monotonic() - began
        figures.cpu = await self.cpu_seconds() - cpu_before
        return figures

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


async def execute(url: str, sql: str) -> None:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def prepare_database(url: str) -> None:
    """The bench database (created if missing), migrated, holding the demo network."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from bot.demo import demo_export
    from bot.importer.service import Importer
    from storage.db import create_engine, migrate

    sa_url = make_url(url)
    admin = create_engine(
        sa_url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": sa_url.database}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{sa_url.database}"'))
    finally:
        await admin.dispose()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await migrate(engine)
        with demo_export(ZoneInfo("Europe/Paris")) as folder:
            await Importer(engine).run(folder, progress=False)
    finally:
        await engine.dispose()


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) {five:.1f} (5 min) on {os.cpu_count()} cores"


# -- scenarios ---------------------------------------------------------------------------------


def question_of(bench: Bench) -> Callable[[int, int], str]:
    questions = bench.questions
    return lambda index, step: questions[(index * 7 + step) % len(questions)]


async def _rates(bench: Bench, limiter: bool, title: str) -> dict[str, Traffic]:
    args = bench.args
    bench.say(
        f"\n== {title}: {args.patrons} patrons asking at once, {args.questions} questions "
        f"each; {load_line()} =="
    )
    bench.say(
        f"{'mode':<9} {'instances':>9} {'answers':>8} {'missing':>8} {'seconds':>8} "
        f"{'answers/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} | CPU ms per answer: "
        f"{'bot':>6} {'stand-in':>8} {'PG':>6} | {'PG xacts/answer':>15} {'other work %':>12}"
    )
    results: dict[str, Traffic] = {}
    setups = [("polling", 1)] + [("webhook", n) for n in args.instances]
    for mode, count in setups:
        await bench.reset()
        await bench.start(count, webhook=mode == "webhook", limiter=limiter)
        patrons = bench.patrons(args.patrons)
        await bench.traffic(patrons[:20], 1, question_of(bench))  # warm-up: index, caches
        for person in patrons:
            person.drain()
        figures = await bench.traffic(patrons, args.questions, question_of(bench))
        results[f"{mode}-{count}"] = figures
        lat = figures.latencies
        lat, cpu = figures.latencies, figures.cpu
        bench.say(
            f"{mode:<9} {count:>9} {figures.answered:>8} {figures.missing:>8} "
            f"{figures.seconds:>8.1f} {figures.rate:>10.1f} {percentile(lat, 50) * 1000:>8.0f} "
            f"{percentile(lat, 95) * 1000:>8.0f} {percentile(lat, 99) * 1000:>8.0f} | "
            f"{'':>18} {figures.per_answer(cpu.bot):>6.1f} {figures.per_answer(cpu.bench):>8.1f} "
            f"{figures.per_answer(cpu.postgres):>6.1f} | "
            f"{cpu.transactions / max(1, figures.answered):>15.1f} "
            f"{100 * figures.others_cpu / figures.seconds:>12.0f}"
        )
    for instance in bench.instances:
        await instance.stop()
    bench.instances = []
    return results


async def throughput(bench: Bench) -> None:
    await _rates(bench, True, "throughput as deployed (PTB's 30/s reply limiter per instance)")


async def capacity(bench: Bench) -> None:
    results = await _rates(bench, False, "capacity, reply limiter lifted")
    two = results.get("webhook-2")
    if two is None:
        return
    verdict = "met" if two.rate >= 200 else "NOT met"
    bench.say(f"target ≥ 200 answers/s with 2 instances: {two.rate:.0f}/s, {verdict}")
    if not two.answered:
        return
    cpu, cores = two.cpu, os.cpu_count() or 1
    whole = two.per_answer(cpu.bot + cpu.bench + cpu.postgres)
    bench.say(
        f"CPU per answer with 2 instances: bot {two.per_answer(cpu.bot):.1f} ms, stand-in and "
        f"patrons {two.per_answer(cpu.bench):.1f} ms, "
        f"PostgreSQL {two.per_answer(cpu.postgres):.1f} ms: "
        f"{whole:.1f} ms in all, so at most {1000 * cores / whole:.0f} answers/s on this "
        f"machine's {cores} cores with nothing else on them (other work took "
        f"{100 * two.others_cpu / two.seconds:.0f} % of a core meanwhile); the bot alone, "
        f"{1000 / two.per_answer(cpu.bot):.0f} answers/s per core it has to itself"
    )


async def rolling(bench: Bench) -> None:
    """Replace both instances, one after the other, under steady traffic."""
    args = bench.args
    await bench.reset()
    audience = await add_audience(bench, args.rolling_audience, first=31_000_000)
    await bench.start(2, limiter=False)
    patrons = bench.patrons(args.patrons)
    rounds = args.rolling_rounds
    replaced: list[Instance] = []
    # the outbox at work meanwhile: a broadcast (Telegram-like pace) spans the restarts
    await start_broadcast(bench, "Nouveaux horaires à partir de lundi.")

    async def replace_each() -> None:
        await asyncio.sleep(args.rolling_after)
        for old in list(bench.instances):
            await bench.start(1, limiter=False)  # the new version first...
            await old.stop()  # ...then SIGTERM to the old one
            bench.instances.remove(old)
            replaced.append(old)
            await asyncio.sleep(args.rolling_after)

    bench.say(
        f"\n== rolling restart: {args.patrons} patrons × {rounds} /whoami and a broadcast to "
        f"{len(audience)}, 2 instances replaced one after the other under traffic; "
        f"{load_line()} =="
    )
    figures = await bench.traffic(patrons, rounds, lambda i, s: f"/whoami {s}", replace_each)
    standin = bench.standin
    await standin.wait_idle(quiet=1.0, timeout=60)  # type: ignore[attr-defined]
    pushed = rounds * len(patrons)
    handled = await scalar(
        bench.database_url, "SELECT count(*) FROM handled_updates WHERE done_at IS NOT NULL"
    )
    answers = [
        sum(1 for m in person.messages if m.from_bot and "identifiant" in m.text)
        for person in patrons
    ]
    lost = sum(max(0, rounds - n) for n in answers)
    doubled = sum(max(0, n - rounds) for n in answers)
    pending = standin.pending_updates  # type: ignore[attr-defined]
    bench.say(
        f"updates sent {pushed}, handled {handled}, still pending {pending}: "
        f"{pushed - handled} lost"
    )
    bench.say(f"answers expected {pushed}: {lost} lost, {doubled} doubled")
    first, last = audience[0], audience[-1]
    await wait_for(lambda: _at_least(bench, first, last, len(audience), distinct=True), 120)
    await asyncio.sleep(2.0)  # a duplicate would come after the last first send
    per_chat: dict[int, int] = {}
    for call in sends_to(bench, first, last):
        per_chat[call.chat_id] = per_chat.get(call.chat_id, 0) + 1  # type: ignore[attr-defined]
    bench.say(
        f"broadcast messages expected {len(audience)} (outbox, sent across the restarts): "
        f"{len(audience) - len(per_chat)} lost, {sum(n - 1 for n in per_chat.values())} doubled"
    )
    stops = ", ".join(f"{i.name} {i.stop_seconds:.1f} s" for i in replaced)
    bench.say(f"SIGTERM to exit: {stops} (limit 10 s)")
    lat = figures.latencies
    bench.say(
        f"during it: {figures.rate:.0f} answers/s, p50 {percentile(lat, 50) * 1000:.0f} ms, "
        f"p99 {percentile(lat, 99) * 1000:.0f} ms; balancer skipped "
        f"{dict(standin.balancer.skipped)}"  # type: ignore[attr-defined]
    )
    for instance in bench.instances:
        await instance.stop()
    bench.instances = []


# -- the outbox under load: a broadcast, replies during it, a kill, an outage -----------------


async def add_audience(bench: Bench, count: int, *, first: int = 30_000_000) -> list[int]:
    """``count`` patrons subscribed to the news, inserted in one statement each way."""
    await execute(
        bench.database_url,
        "INSERT INTO users (telegram_id, first_name, language, onboarded, reachable, role, "
        "created_at, last_seen_at) "
        f"SELECT {first} + n, 'B' || n, 'fr', true, true, 'patron', now(), now() "
        f"FROM generate_series(0, {count - 1}) AS n ON CONFLICT DO NOTHING",
    )
    await execute(
        bench.database_url,
        "INSERT INTO subscriptions (user_id, topic, created_at) SELECT id, 'news', now() "
        f"FROM users WHERE telegram_id BETWEEN {first} AND {first + count - 1} "
        "ON CONFLICT DO NOTHING",
    )
    return list(range(first, first + count))


async def start_broadcast(bench: Bench, text: str) -> int:
    """An announcement to the news subscribers, started as the staff's button does
    (``AnnouncementService.start_sending``: its outbox rows in one transaction)."""
    from bot.announcements.service import AnnouncementService
    from handlers.announcements.progress import stop_markup
    from storage.db import create_engine, session_factory

    engine = create_engine(bench.database_url)
    try:
        service = AnnouncementService(session_factory(engine))
        draft = await service.create_draft(author_id=None, text=text, audience="all")
        await service.start_sending(draft.id, stop_markup("fr"))
        return draft.id
    finally:
        await engine.dispose()


def sends_to(bench: Bench, first: int, last: int) -> list[object]:
    return [
        c
        for c in bench.standin.calls.calls_for("sendMessage", status=200)  # type: ignore[attr-defined]
        if isinstance(c.chat_id, int) and first <= c.chat_id <= last
    ]


def busiest_second(times: list[float]) -> int:
    """The most sends in any sliding 1-second window."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.25)
    return False


async def lease_holder(bench: Bench) -> Instance | None:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(bench.database_url)
    try:
        async with engine.connect() as conn:
            holder = await conn.scalar(text("SELECT holder FROM outbox_leases WHERE name='drain'"))
    finally:
        await engine.dispose()
    pid = int(str(holder).split(":")[1]) if holder else None
    return next((i for i in bench.instances if i.process and i.process.pid == pid), None)


async def broadcast_kill(bench: Bench) -> None:
    """A broadcast through 2 instances, Telegram-like limits on; the one draining the
    outbox is SIGKILLed at half."""
    args = bench.args
    total = args.recipients
    await bench.reset()
    bench.standin.faults.rate_limits = True  # type: ignore[attr-defined]
    chats = await add_audience(bench, total)
    await bench.start(2)
    bench.say(
        f"\n== broadcast to {total} through 2 instances, the draining one SIGKILLed at half; "
        f"{load_line()} =="
    )
    began = time.monotonic()
    await start_broadcast(bench, "Grande nouvelle : la médiathèque ouvre le dimanche !")
    first, last = chats[0], chats[-1]
    await wait_for(lambda: _at_least(bench, first, last, total // 2), 3600)
    victim = await lease_holder(bench)
    in_flight = await scalar(
        bench.database_url, "SELECT count(*) FROM outbox WHERE state = 'sending'"
    )
    killed_at = time.monotonic()
    if victim is not None and victim.process is not None:
        victim.process.kill()
        await victim.process.wait()
        bench.standin.balancer.remove(victim.listen_url)  # type: ignore[attr-defined]
        bench.instances.remove(victim)
    at_kill = len(sends_to(bench, first, last))
    done = await wait_for(lambda: _at_least(bench, first, last, total, distinct=True), 3600)
    took = time.monotonic() - began
    resumed = [c.at for c in sends_to(bench, first, last) if c.at > killed_at]  # type: ignore[attr-defined]
    sends = sends_to(bench, first, last)
    per_chat: dict[int, int] = {}
    for call in sends:
        per_chat[call.chat_id] = per_chat.get(call.chat_id, 0) + 1  # type: ignore[attr-defined]
    lost = total - len(per_chat)
    duplicates = sum(n - 1 for n in per_chat.values())
    refused = bench.standin.count_status(429, "sendMessage")  # type: ignore[attr-defined]
    ideal = total / 30
    window = busiest_second([c.at for c in sends])  # type: ignore[attr-defined]
    bench.say(f"finished: {done}; {len(sends)} sends for {total} recipients in {took:.1f} s")
    bench.say(
        f"lost {lost} (target 0); duplicates {duplicates} (in flight at the kill: {in_flight})"
    )
    bench.say(f"busiest 1-s window: {window} sends (limit 30); 429s: {refused}")
    bench.say(
        f"time {took:.1f} s vs the 30/s ideal {ideal:.1f} s (baseline): "
        f"{100 * ideal / took:.0f} % of it (target ≥ 90 %); sends before the kill {at_kill}, "
        f"first send after it {resumed[0] - killed_at if resumed else float('nan'):.1f} s later"
    )
    for instance in bench.instances:
        await instance.stop()
    bench.instances = []


async def _at_least(
    bench: Bench, first: int, last: int, count: int, *, distinct: bool = False
) -> bool:
    sends = sends_to(bench, first, last)
    return len({c.chat_id for c in sends} if distinct else sends) >= count  # type: ignore[attr-defined]


async def replies_in_broadcast(bench: Bench) -> None:
    """Telegram-like limits on, 2 instances: a broadcast alone (the baseline), then with
    patrons asking ``--asking`` questions a second: their wait, the broadcast's rate, 429s."""
    args = bench.args
    total = args.recipients
    await bench.reset()
    bench.standin.faults.rate_limits = True  # type: ignore[attr-defined]
    chats = await add_audience(bench, total)
    await bench.start(2)
    bench.say(
        f"\n== replies during a broadcast to {total}, 2 instances, Telegram-like limits; "
        f"{load_line()} =="
    )
    await start_broadcast(bench, "Les horaires d'été commencent lundi.")
    first, last = chats[0], chats[-1]
    await wait_for(lambda: _at_least(bench, first, last, 60), 600)
    quiet_began = time.monotonic()
    quiet_sent = len(sends_to(bench, first, last))
    await asyncio.sleep(args.phase)
    alone = (len(sends_to(bench, first, last)) - quiet_sent) / (time.monotonic() - quiet_began)
    patrons = bench.patrons(args.patrons)
    latencies: list[float] = []
    missing = 0

    async def ask(person, question: str) -> None:  # type: ignore[no-untyped-def]
        nonlocal missing
        from bot.standin import StandinTimeout

        began = time.monotonic()
        await person.send(question)
        try:
            await person.next_message(timeout=30)
        except StandinTimeout:
            missing += 1
            return
        latencies.append(time.monotonic() - began)

    busy_began = time.monotonic()
    busy_sent = len(sends_to(bench, first, last))
    asked: list[asyncio.Task[None]] = []
    questions = question_of(bench)
    n = 0
    while time.monotonic() - busy_began < args.phase:
        person = patrons[n % len(patrons)]
        asked.append(asyncio.create_task(ask(person, questions(n, 0))))
        n += 1
        await asyncio.sleep(1 / args.asking)
    busy_seconds = time.monotonic() - busy_began
    during = (len(sends_to(bench, first, last)) - busy_sent) / busy_seconds
    await asyncio.gather(*asked)
    standin = bench.standin
    all_sends = len(standin.calls.calls_for("sendMessage"))  # type: ignore[attr-defined]
    refused = standin.count_status(429)  # type: ignore[attr-defined]
    replies_per_second = len(latencies) / busy_seconds
    patron_ids = {p.id for p in patrons}
    reply_sends = [
        c
        for c in standin.calls  # type: ignore[attr-defined]
        if c.chat_id in patron_ids
        and c.status == 200
        and c.method.startswith(("send", "edit"))
        and busy_began <= c.at <= busy_began + busy_seconds
    ]
    refused_replies = sum(
        1
        for c in standin.calls  # type: ignore[attr-defined]
        if c.chat_id in patron_ids and c.status == 429
    )
    bench.say(
        f"broadcast alone: {alone:.1f} msg/s (baseline); with {args.asking:g} questions/s: "
        f"{during:.1f} msg/s + {replies_per_second:.1f} answers/s = "
        f"{during + replies_per_second:.1f}/s (yield: {alone - during:.1f} msg/s for "
        f"{replies_per_second:.1f} answers/s)"
    )
    bench.say(
        f"answers: {len(latencies)} ({missing} missing), wait p50 "
        f"{percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms (target ≤ 1000 ms)"
    )
    bench.say(
        f"the answers took {len(reply_sends) / busy_seconds:.1f} sends/s (sendMessage and "
        f"edits to the patrons): the broadcast gave up {alone - during:.1f} msg/s for them"
    )
    bench.say(
        f"429s: {refused} of {all_sends} sends = {100 * refused / max(1, all_sends):.2f} % "
        f"(target < 0.5 %); {refused_replies} of them on answers"
    )
    for instance in bench.instances:
        await instance.stop()
    bench.instances = []
    await execute(bench.database_url, "UPDATE outbox SET state='cancelled' WHERE state='pending'")


async def outage(bench: Bench) -> None:
    """2 instances reach PostgreSQL through a TCP proxy; it is cut for ``--outage`` seconds
    during a broadcast and before reminders fall due."""
    from sqlalchemy.engine import make_url

    from bot.standin.proxy import CuttableProxy

    args = bench.args
    total = min(args.recipients, 3000)
    await bench.reset()
    chats = await add_audience(bench, total)
    url = make_url(bench.database_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    direct = bench.database_url
    bench.database_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False
    )
    try:
        await bench.start(2)
    finally:
        bench.database_url = direct
    bench.say(
        f"\n== a {args.outage:.0f} s PostgreSQL outage during a broadcast to {total} and "
        f"before {args.reminded} reminders fall due; {load_line()} =="
    )
    reminded = await plan_reminders(bench, args.reminded, due_in=args.outage / 2 + 15)
    await start_broadcast(bench, "Fermeture exceptionnelle samedi.")
    first, last = chats[0], chats[-1]
    await wait_for(lambda: _at_least(bench, first, last, 150), 600)
    cut_at = time.monotonic()
    await proxy.cut()
    sent_at_cut = len(sends_to(bench, first, last))
    await asyncio.sleep(args.outage)
    proxy.restore()
    restored = time.monotonic()
    during = len(sends_to(bench, first, last)) - sent_at_cut
    finished = await wait_for(lambda: _at_least(bench, first, last, total, distinct=True), 900)
    after = [c.at for c in sends_to(bench, first, last) if c.at > restored]  # type: ignore[attr-defined]
    reminders_done = await wait_for(lambda: _reminded(bench, reminded), 300)
    per_chat: dict[int, int] = {}
    for call in sends_to(bench, first, last):
        per_chat[call.chat_id] = per_chat.get(call.chat_id, 0) + 1  # type: ignore[attr-defined]
    counts = [len(bench.standin.user(tid).bot_messages) for tid in reminded]  # type: ignore[attr-defined]
    bench.say(
        f"broadcast: finished {finished}, lost {total - len(per_chat)}, duplicates "
        f"{sum(n - 1 for n in per_chat.values())}; {during} sends while the database was away "
        f"(in flight at the cut, or already claimed)"
    )
    bench.say(
        f"reminders (due during the outage): {sum(1 for n in counts if n == 1)} of "
        f"{len(reminded)} sent once, {sum(1 for n in counts if n == 0)} lost, "
        f"{sum(max(0, n - 1) for n in counts)} doubled; all done: {reminders_done}"
    )
    bench.say(
        f"time to resume: first send {after[0] - restored if after else float('nan'):.1f} s "
        f"after the database came back (outage {restored - cut_at:.0f} s; baseline: the "
        f"broadcast's normal gap between two sends, {1 / 30:.2f} s)"
    )
    for instance in bench.instances:
        await instance.stop()
    bench.instances = []
    await proxy.stop()


async def plan_reminders(bench: Bench, count: int, *, due_in: float) -> list[int]:
    """A workshop whose ``count`` registrants get their reminder in ``due_in`` seconds."""
    import datetime as dt

    from bot.config import load_settings
    from bot.services import Services
    from bot.workshops.service import Draft

    offset = 600.0
    settings = load_settings(
        telegram_bot_token=TOKEN,
        database_url=bench.database_url,
        reminder_offsets=(dt.timedelta(seconds=offset),),
    )
    services = Services.create(settings)
    try:
        starts = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset + due_in)
        library = await scalar(bench.database_url, "SELECT count(*) FROM libraries")
        assert library, "the demo network has libraries"
        from sqlalchemy import text

        async with services.sessions() as session:
            library_id = await session.scalar(text("SELECT id FROM libraries ORDER BY id"))
        view = await services.workshops.create(
            Draft(
                title="Atelier liseuse",
                library_id=str(library_id),
                starts_at=starts,
                duration_min=60,
                capacity=count + 10,
                description="",
                media_type="ebook",
                media_set=True,
            )
        )
        ids = [40_000_000 + n for n in range(count)]
        for tid in ids:
            person, _ = await services.users.touch(tid, f"R{tid}", "fr")
            await services.workshops.register(view.id, person.id)
    finally:
        await services.close()
    # the instances learn of the new rows at their next look (the idle poll: 60 s)
    return ids


async def _reminded(bench: Bench, ids: list[int]) -> bool:
    return all(bench.standin.user(tid).bot_messages for tid in ids)  # type: ignore[attr-defined]


#: name → scenario; other branches add theirs here
SCENARIOS: dict[str, Callable[[Bench], Awaitable[None]]] = {
    "throughput": throughput,
    "capacity": capacity,
    "rolling": rolling,
    "broadcast-kill": broadcast_kill,
    "replies-in-broadcast": replies_in_broadcast,
    "outage": outage,
}


async def main(args: argparse.Namespace) -> int:
    from bot.config import normalise_database_url

    names = list(SCENARIOS) if args.scenario == "all" else args.scenario.split(",")
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}, all")
        return 2
    url = normalise_database_url(args.database_url)
    if not url.startswith("postgresql"):
        print("bench/scale.py runs on PostgreSQL (several instances share one database)")
        return 2
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text().splitlines() if line]
    with tempfile.TemporaryDirectory(prefix="plume-scale-") as tmp:
        try:
            await prepare_database(url)
        except OSError as error:
            print(f"PostgreSQL is not reachable ({error}): skipped")
            return 0
        bench = Bench(args, url, Path(tmp), questions)
        print(f"database {url.split('@')[-1]}; {load_line()}", flush=True)
        try:
            for name in names:
                await SCENARIOS[name](bench)
        finally:
            for instance in bench.instances:
                await instance.stop()
            if bench.standin is not None:
                await bench.standin.stop()  # type: ignore[attr-defined]
            if args.keep_logs:
                for log in sorted(Path(tmp).glob("*.log")):  # noqa: ASYNC240 (at the end)
                    print(f"--- {log.name}\n{log.read_text()[-3000:]}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scenario", default="all", help=f"comma-separated among {', '.join(SCENARIOS)}, or all"
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="PostgreSQL URL")
    parser.add_argument("--patrons", type=int, default=200, help="patrons asking at once")
    parser.add_argument("--questions", type=int, default=5, help="questions per patron")
    parser.add_argument(
        "--instances",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2, 3],
        help="webhook instance counts to measure (default 1,2,3)",
    )
    parser.add_argument("--rolling-rounds", type=int, default=12, help="/whoami per patron")
    parser.add_argument(
        "--rolling-after", type=float, default=3.0, help="seconds between replacements"
    )
    parser.add_argument(
        "--rolling-audience", type=int, default=1500, help="broadcast during the restarts"
    )
    parser.add_argument("--answer-timeout", type=float, default=60.0, help="seconds per answer")
    parser.add_argument("--recipients", type=int, default=10_000, help="broadcast audience")
    parser.add_argument("--asking", type=float, default=2.0, help="questions/s in a broadcast")
    parser.add_argument("--phase", type=float, default=20.0, help="seconds of each phase")
    parser.add_argument("--outage", type=float, default=60.0, help="database outage, seconds")
    parser.add_argument("--reminded", type=int, default=80, help="reminders due in the outage")
    parser.add_argument("--keep-logs", action="store_true", help="print the instances' logs")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
