"""Broadcast throughput, exactly-once delivery, crash recovery and memory, with the Bot API
stand-in enforcing Telegram's limits.

    python bench/broadcast.py                        # every run, 10,000 recipients
    python bench/broadcast.py --recipients 2000 --runs steady,kill
    python bench/broadcast.py --runs memory --memory-recipients 100000

The stand-in runs in this process with ``rate_limits`` on (30 messages/s overall, 1/s per
chat, 1,000/s for paid broadcasts), 2 % of the recipients having blocked the bot and 1 % of
the sends answered 502. The bot is a real ``python -m bot run`` subprocess (so it can be
SIGKILLed and restarted) over a fresh database holding the recipients, all subscribed to the
general news; the broadcast is composed by a staff member through /annonce, as in real use.

Runs:

``steady``  free mode: sustained rate (middle 90 % of the deliveries) against the 30/s
            limit, exactly one copy per reachable recipient, blocked ones marked
            unreachable, share of 429 answers.
``kill``    the same, SIGKILLed when half the recipients are served, then restarted: nobody
            lost; duplicates against the deliveries in flight (state ``sending``) at the kill.
``paid``    ``allow_paid_broadcast``: the bot's rate against a bare aiohttp loop sending the
            same requests (same concurrency, same 950/s pace) to the same stand-in, run in
            its own process right after.
``memory``  ``--memory-recipients`` in paid mode: the bot's peak RSS over its idle RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:BENCH-BROADCAST"
STAFF_ID = 42
FIRST_CHAT = 10_000_000
BARE_FIRST_CHAT = 50_000_000
TEXT = "<b>50% off < today</b> — Plume bench: new e-books & audiobooks this week!"
PAID_RATE = 950.0
PAID_WINDOW = 96
SENDING = ("sendMessage", "editMessageText", "sendPhoto", "sendDocument")


# -- the bare aiohttp baseline (runs in its own process) -----------------------------------


async def bare_loop(api: str, count: int, window: int, rate: float) -> dict[str, float]:
    """The same sendMessage requests as the bot, paced at ``rate``, ``window`` at a time."""
    import aiohttp

    markup = json.dumps(
        {"inline_keyboard": [[{"text": "Stop", "callback_data": "Un:news"}]]},
    )
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(BARE_FIRST_CHAT + i)
    for _ in range(window):
        queue.put_nowait(None)
    gap = 1.0 / rate
    next_slot = time.monotonic()
    ok = errors = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_slot, ok, errors
        while (chat := await queue.get()) is not None:
            slot = max(time.monotonic(), next_slot)
            next_slot = slot + gap
            await asyncio.sleep(max(0.0, slot - time.monotonic()))
            payload = {
                "chat_id": chat,
                "text": html.escape(TEXT, quote=False),  # what the bot sends (text_html)
                "parse_mode": "HTML",
                "reply_markup": markup,
                "allow_paid_broadcast": True,
                "link_preview_options": json.dumps({"is_disabled": True}),
            }
            async with session.post(f"{api}/bot{TOKEN}/sendMessage", json=payload) as response:
                await response.read()
                if response.status == 200:
                    ok += 1
                else:
                    errors += 1

    began = time.monotonic()
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(window)))
    elapsed = time.monotonic() - began
    return {"ok": ok, "errors": errors, "seconds": elapsed, "rate": ok / elapsed}


# -- the bot under test ----------------------------------------------------------------------


@dataclass
class Bot:
    database_url: str
    api_url: str
    workdir: Path
    name: str = "bot"
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    async def start(self) -> None:
        self.starts += 1
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PLUME_", "TELEGRAM_"))},
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": self.api_url,
            "DATABASE_URL": self.database_url,
            "PLUME_ADMINS": str(STAFF_ID),
            "PLUME_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        log = (self.workdir / f"{self.name}-bot-{self.starts}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=log,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def wait_until(condition, timeout: float, what: str, every: float = 0.1) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)


# -- one run -----------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    recipients: int
    paid: bool = False
    kill_at: float | None = None
    sample_memory: bool = False
    figures: dict[str, object] = field(default_factory=dict)


async def prepare_database(url: str, recipients: int, blocked: set[int]) -> None:
    from sqlalchemy import insert, select, text

    from storage.db import create_engine, migrate
    from storage.models import Base, Subscription, User

    engine = create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
                await migrate(engine)
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            await migrate(engine)
        batch = 20_000
        for start in range(0, recipients, batch):
            chats = range(FIRST_CHAT + start, FIRST_CHAT + min(recipients, start + batch))
            async with engine.begin() as conn:
                await conn.execute(
                    insert(User),
                    [
                        {"telegram_id": c, "first_name": "P", "language": "fr", "onboarded": True}
                        for c in chats
                    ],
                )
                ids = await conn.scalars(
                    select(User.id).where(User.telegram_id.between(chats[0], chats[-1]))
                )
                await conn.execute(
                    insert(Subscription), [{"user_id": i, "topic": "news"} for i in ids]
                )
    finally:
        await engine.dispose()


async def query(url: str, sql: str) -> int:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text(sql)) or 0)
    finally:
        await engine.dispose()


async def rss_sampler(pid: int, samples: list[float], stop: asyncio.Event) -> None:
    import psutil

    process = psutil.Process(pid)
    while not stop.is_set():
        try:
            samples.append(process.memory_info().rss / 2**20)
        except psutil.Error:
            return
        await asyncio.sleep(0.2)


async def compose(standin, staff, paid: bool) -> None:
    """/annonce as the staff member: text, audience "all", preview, send."""
    await staff.send("/annonce")
    await staff.wait_for("New announcement", timeout=30)
    await staff.send(TEXT)
    audience = await staff.wait_for("Who should receive it?", timeout=60)
    await staff.press_data("Aa:all", audience)
    card = await staff.wait_for("Preview", timeout=60)
    await staff.press(card, "⚡ Send now as a paid broadcast (fast)" if paid else "📤 Send now")


async def run_one(run: Run, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    from bot.standin import BotAPIStandin, Faults

    rng = random.Random(args.seed)
    chats = range(FIRST_CHAT, FIRST_CHAT + run.recipients)
    blocked = set(rng.sample(chats, round(run.recipients * args.blocked)))
    faults = Faults(rate_limits=True, server_error_rate=args.server_errors, seed=args.seed)
    faults.blocked = set(blocked)
    standin = BotAPIStandin(token=TOKEN, bot_username="plume_bench_bot", faults=faults)
    await standin.start()
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / (run.name + '.sqlite3')}"
    began_setup = time.monotonic()
    await prepare_database(url, run.recipients, blocked)
    setup = time.monotonic() - began_setup
    bot = Bot(url, standin.base_url, workdir, run.name)
    figures = run.figures
    figures["recipients"] = run.recipients
    figures["setup_seconds"] = round(setup, 1)
    try:
        await bot.start()
        await wait_until(lambda: standin.calls.count("getUpdates") > 0, 60, "the bot to poll")
        staff = standin.user(STAFF_ID, first_name="Staff", language_code="en")
        samples: list[float] = []
        stop_sampling = asyncio.Event()
        sampler = None
        if run.sample_memory:
            await asyncio.sleep(2.0)
            sampler = asyncio.create_task(rss_sampler(bot.pid, samples, stop_sampling))
            await staff.send("/whoami")  # warm the bot up: handlers, menus, translations
            await staff.wait_for("Telegram id", timeout=30)
            await asyncio.sleep(3.0)
            idle = statistics.median(samples[-10:])
            figures["idle_rss_mb"] = round(idle, 1)
        await compose(standin, staff, run.paid)
        pressed = time.monotonic()

        def delivered() -> int:
            return sum(
                1
                for c in standin.calls.calls_for("sendMessage", status=200)
                if isinstance(c.chat_id, int) and c.chat_id >= FIRST_CHAT
            )

        if run.kill_at is not None:
            half = int(run.recipients * run.kill_at)
            await wait_until(lambda: delivered() >= half, 3600, "half of the deliveries", 0.02)
            await bot.kill()
            killed_at = time.monotonic()
            in_flight = await query(
                url, "select count(*) from outbox where kind='announcement' and state='sending'"
            )
            recorded = await query(
                url, "select count(*) from outbox where kind='announcement' and state='sent'"
            )
            figures["delivered_at_kill"] = delivered()
            figures["recorded_sent_at_kill"] = recorded
            figures["in_flight_at_kill"] = in_flight
            await asyncio.sleep(1.0)
            await bot.start()
            figures["restart_after_s"] = round(time.monotonic() - killed_at, 1)

        def finished() -> bool:
            return any("is sent:" in m.text for m in staff.bot_messages)

        await wait_until(finished, 3600, "the final report", 0.25)
        total = time.monotonic() - pressed
        stop_sampling.set()
        if sampler is not None:
            await sampler
            peak = max(samples)
            figures["peak_rss_mb"] = round(peak, 1)
            figures["rss_growth_mb"] = round(peak - figures["idle_rss_mb"], 1)  # type: ignore[operator]
        figures["seconds"] = round(total, 1)
        measure(standin, run, blocked, figures)
        if args.dump_calls:
            dump_calls(standin, Path(args.dump_calls) / f"{run.name}-calls.jsonl")
        figures["marked_unreachable"] = await query(
            url, "select count(*) from users where reachable = false"
        )
        figures["blocked"] = len(blocked)
        figures["db_sent"] = await query(
            url, "select count(*) from outbox where kind='announcement' and state='sent'"
        )
        figures["db_failed"] = await query(
            url, "select count(*) from outbox where kind='announcement' and state='failed'"
        )
        if run.paid and args.baseline:
            figures["bare_loop"] = await baseline(standin, run.recipients)
    finally:
        await bot.stop()
        await standin.stop()
    return figures


def measure(standin, run: Run, blocked: set[int], figures: dict[str, object]) -> None:
    sends = [
        c
        for c in standin.calls.calls_for("sendMessage")
        if isinstance(c.chat_id, int) and FIRST_CHAT <= c.chat_id < BARE_FIRST_CHAT
    ]
    ok = sorted((c for c in sends if c.status == 200), key=lambda c: c.at)
    copies = Counter(c.chat_id for c in ok)
    reachable = [c for c in range(FIRST_CHAT, FIRST_CHAT + run.recipients) if c not in blocked]
    figures["requests"] = len(sends)
    figures["delivered"] = len(ok)
    figures["lost"] = sum(1 for c in reachable if copies[c] == 0)
    figures["duplicates"] = sum(n - 1 for n in copies.values() if n > 1)
    figures["to_blocked"] = sum(copies[c] for c in blocked)
    figures["status_counts"] = dict(Counter(c.status for c in sends))
    every_send = [c for c in standin.calls if c.method in ("sendMessage", "editMessageText")]
    figures["429_share_pct"] = round(
        100 * sum(1 for c in every_send if c.status == 429) / max(1, len(every_send)), 3
    )
    counted = sorted(c.at for c in standin.calls if c.status == 200 and c.method in SENDING)
    refused = [c for c in standin.calls if c.status == 429]
    figures["429_detail"] = [
        (
            c.method,
            "recipient" if isinstance(c.chat_id, int) and c.chat_id >= FIRST_CHAT else c.chat_id,
            c.retry_after,
            sum(1 for t in counted if c.at - 1.0 < t <= c.at),
        )
        for c in refused[:6]
    ]
    if len(ok) >= 20:
        low, high = ok[len(ok) // 20], ok[len(ok) * 19 // 20]
        figures["sustained_rate"] = round((len(ok) * 0.9) / (high.at - low.at), 2)
        figures["overall_rate"] = round(len(ok) / (ok[-1].at - ok[0].at), 2)


def dump_calls(standin, path: Path) -> None:
    """Every call the stand-in recorded (getUpdates aside), one JSON object a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for c in standin.calls:
            if c.method != "getUpdates":
                chat = c.chat_id if isinstance(c.chat_id, int | str) else None
                out.write(json.dumps([c.method, chat, round(c.at, 6), c.status]) + "\n")


async def baseline(standin, count: int) -> dict[str, float]:
    """The bare aiohttp loop, in its own process like the bot, against the same stand-in."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--bare-loop",
        standin.base_url,
        "--recipients",
        str(count),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


# -- main ---------------------------------------------------------------------------------------


def report(run: Run) -> None:
    f = run.figures
    print(f"\n== {run.name}: {f['recipients']:,} recipients ==")
    for key, value in f.items():
        print(f"  {key:24} {value}")
    if "sustained_rate" in f and not run.paid:
        rate = float(f["sustained_rate"])  # type: ignore[arg-type]
        print(f"  -> sustained rate {rate:.2f}/s = {rate / 30:.1%} of Telegram's 30/s "
              f"(target ≥ 28.5/s): {'OK' if rate >= 28.5 else 'BELOW TARGET'}")  # fmt: skip
    if "bare_loop" in f:
        bare = f["bare_loop"]["rate"]  # type: ignore[index]
        rate = float(f["sustained_rate"])  # type: ignore[arg-type]
        print(f"  -> paid: bot {rate:.0f}/s vs bare aiohttp loop {bare:.0f}/s = "
              f"{rate / bare:.0%} (target ≥ 50%)")  # fmt: skip
    if "rss_growth_mb" in f:
        growth = float(f["rss_growth_mb"])  # type: ignore[arg-type]
        print(f"  -> RSS growth {growth:.1f} MB over idle (target ≤ 50 MB): "
              f"{'OK' if growth <= 50 else 'ABOVE TARGET'}")  # fmt: skip
    if "in_flight_at_kill" in f:
        print(f"  -> lost {f['lost']}, duplicates {f['duplicates']} for "
              f"{f['in_flight_at_kill']} deliveries in flight at the kill")  # fmt: skip
    else:
        print(f"  -> lost {f['lost']}, duplicates {f['duplicates']}, "
              f"{f['marked_unreachable']}/{f['blocked']} blocked marked unreachable")  # fmt: skip


def print_logs(folder: Path, name: str) -> None:
    for log in sorted(folder.glob(f"{name}-bot-*.log")):
        print(f"--- {log.name}\n{log.read_text()[-3000:]}")


async def main(args: argparse.Namespace) -> int:
    if args.bare_loop:
        result = await bare_loop(args.bare_loop, args.recipients, PAID_WINDOW, PAID_RATE)
        print(json.dumps(result))
        return 0
    runs = {
        "steady": Run("steady", args.recipients),
        "kill": Run("kill", args.recipients, kill_at=0.5),
        "paid": Run("paid", args.recipients, paid=True),
        "memory": Run("memory", args.memory_recipients, paid=True, sample_memory=True),
    }
    chosen = [runs[name] for name in args.runs.split(",")]
    with tempfile.TemporaryDirectory(prefix="plume-bench-") as tmp:
        for run in chosen:
            print(f"running {run.name} with {run.recipients:,} recipients...", flush=True)
            await run_one(run, args, Path(tmp))
            report(run)
            if args.keep_logs:
                print_logs(Path(tmp), run.name)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--memory-recipients", type=int, default=100_000)
    parser.add_argument("--runs", default="steady,kill,paid,memory")
    parser.add_argument("--blocked", type=float, default=0.02, help="share of blocked users")
    parser.add_argument("--server-errors", type=float, default=0.01, help="share of 502s")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="default: a temporary SQLite file per run")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--dump-calls", metavar="DIR", help="write the stand-in's call records")
    parser.add_argument("--keep-logs", action="store_true", help="print the bot's logs")
    parser.add_argument("--bare-loop", metavar="API_URL", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
