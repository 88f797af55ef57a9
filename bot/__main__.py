"""Command line: ``python -m bot <command>`` (also installed as ``plume-bot``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2
Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, secrets: tuple[str | None, ...] = ()) -> None:
    """Logging to stderr; the bot token never appears in it, at any level."""
    from bot.privacy.logs import install

    logging.basicConfig(level=level, format=LOG_FORMAT, force=True)
    install(LOG_FORMAT, secrets)
    if level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("matplotlib").setLevel(logging.WARNING)
        # WeasyPrint logs each step and page of a PDF at INFO, fontTools each font subset
        logging.getLogger("weasyprint").setLevel(logging.WARNING)
        logging.getLogger("fontTools").setLevel(logging.WARNING)


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import Plume, run_until_stopped

    await run_until_stopped(Plume(settings))
    return 0


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import create_engine, migrate

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    print("database is up to date")
    return 0


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.announcements.service import catalogue_version, draft_new_titles
    from bot.counter.service import import_demo_usage
    from bot.demo import demo_export
    from bot.importer.service import Importer
    from storage.db import create_engine, migrate

    if args.demo == (args.directory is not None):
        print("import: give a directory or --demo", file=sys.stderr)
        return EXIT_CONFIG
    folder = None if args.demo else Path(args.directory)
    if folder is not None and not folder.is_dir():  # said before any database is made
        print(f"import: {folder} is not a directory", file=sys.stderr)
        return 1
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        version_before = await catalogue_version(engine)
        importer = Importer(engine)
        if args.demo:
            with demo_export(settings.tz) as directory:
                report = await importer.run(directory, strict=args.strict)
                await import_demo_usage(engine, directory / "usage")
        else:
            assert folder is not None
            report = await importer.run(folder, strict=args.strict)
        drafts = []
        if not report.strict_failed:  # new titles: drafts the staff approve in the bot
            drafts = await draft_new_titles(
                engine,
                report.added_titles,
                settings.default_locale,
                settings.timezone,
                first_import=version_before is None,
            )
        embedded = None
        if not report.strict_failed:  # the semantic signal's vectors, changed rows only
            from bot.answering.semantic import load_encoder, refresh_embeddings
            from storage.db import session_factory

            encoder = load_encoder()
            if encoder is not None:
                embedded = await refresh_embeddings(session_factory(engine), encoder)
    except FileNotFoundError as error:
        print(f"import: {error}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for rejected in report.errors:
        print(rejected, file=sys.stderr)
    print(report.summary())
    if embedded is not None:
        print(
            f"embeddings of FAQ entries and resources: {embedded.computed} computed, "
            f"{embedded.kept} unchanged, {embedded.removed} removed"
        )
    if drafts:
        print(f"{len(drafts)} announcement drafts of new titles sent to the staff for approval")
    return 1 if report.failed else 0  # any row or file rejected


async def refuse_missing_database(command: str, settings: Settings) -> bool:
    """True (after one line on stderr) when there is no database with a catalogue to read."""
    from bot.shared.database_presence import check_existing_database

    problem = await check_existing_database(settings.database_url)
    if problem is not None:
        print(f"{command}: {problem}", file=sys.stderr)
    return problem is not None


async def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answering.ask import ask_main
    from storage.db import create_engine, migrate, session_factory

    if await refuse_missing_database("ask", settings):
        return 1
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        return await ask_main(args, session_factory(engine), index_dir=settings.search_index_path)
    finally:
        await engine.dispose()


async def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from bot.sandbox.run import run_sandbox

    return await run_sandbox(settings, args.host, args.port, webhook=args.webhook)


async def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.data import Branding
    from bot.reporting.report import report_main
    from storage.db import create_engine, migrate

    if await refuse_missing_database("report", settings):
        return 1
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        branding = Branding(settings.network_name, settings.report_logo, settings.pdf_engine)
        return await report_main(args, engine, settings.tz, branding)
    finally:
        await engine.dispose()


async def cmd_import_usage(args: argparse.Namespace, settings: Settings) -> int:
    from bot.counter.service import import_usage_main
    from storage.db import create_engine, migrate

    if await refuse_missing_database("import-usage", settings):
        return 1
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        return await import_usage_main(args.files, engine)
    finally:
        await engine.dispose()


async def cmd_export_faq(args: argparse.Namespace, settings: Settings) -> int:
    from bot.search import SearchService
    from bot.teach.service import TeachingService
    from storage.db import create_engine, migrate, session_factory

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        teaching = TeachingService(sessions, SearchService(sessions, index_dir=None))
        try:
            path = await teaching.export_faq(Path(args.directory))
        except OSError as error:
            print(f"export-faq: cannot write in {args.directory}: {error}", file=sys.stderr)
            return 1
        print(f"written: {path}")
        return 0
    finally:
        await engine.dispose()


async def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.service import PrivacyService
    from storage.db import create_engine, migrate, session_factory

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        lines = await PrivacyService(session_factory(engine)).audit_lines(args.limit)
    finally:
        await engine.dispose()
    if not lines:
        print("the audit log is empty")
    for line in reversed(lines):
        at = line.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
        detail = f" ({line.detail})" if line.detail else ""
        print(f"{at}  {line.actor or '?'}  {line.action}  {line.subject}{detail}")
    return 0


async def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.service import PrivacyService, pseudonym
    from storage.db import create_engine, migrate, session_factory

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        privacy = PrivacyService(session_factory(engine))
        found = await privacy.find(args.user)
        if found is None:
            print(
                f"forget: nobody is {args.user!r} (a Telegram id or a pseudonym such as U17)",
                file=sys.stderr,
            )
            return 1
        user_id, _ = found
        erasure = await privacy.erase([user_id], actor="cli", action="erase on request")
    finally:
        await engine.dispose()
    rows = sum(erasure.rows.values())
    print(f"{pseudonym(user_id)} erased ({rows} rows deleted or anonymised)")
    return 0


async def cmd_privacy_register(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.register import register_markdown

    text = register_markdown(settings)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(Path(args.output).write_text, text, encoding="utf-8")
        print(f"written: {args.output}")
    return 0


async def cmd_locales(args: argparse.Namespace, settings: Settings) -> int:
    from bot.i18n import update_catalogs

    for locale, missing in update_catalogs().items():
        print(f"{locale}: {missing} messages to translate")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Plume, the chat assistant of the digital library network",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (migrates the database first)")
    run.set_defaults(handler=cmd_run)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=cmd_migrate)

    imp = commands.add_parser("import", help="import a département export (CSV files)")
    imp.add_argument("directory", nargs="?", help="folder holding libraries.csv, items.csv...")
    imp.add_argument("--demo", action="store_true", help="load Plume's own demo network")
    imp.add_argument("--strict", action="store_true", help="reject everything on a bad row")
    imp.set_defaults(handler=cmd_import)

    ask = commands.add_parser("ask", help="search like the bot does (quality checks)")
    try:
        from bot.answering.ask import add_ask_arguments
    except ImportError:  # pragma: no cover - during development only
        pass
    else:
        add_ask_arguments(ask)
    ask.set_defaults(handler=cmd_ask)

    sandbox = commands.add_parser(
        "sandbox", help="try Plume without Telegram: a web chat at http://127.0.0.1:8080/"
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="address the web chat listens on (127.0.0.1)"
    )
    sandbox.add_argument(
        "--port", type=int, default=8080, help="port of the web chat (8080; 0: any free port)"
    )
    sandbox.add_argument(
        "--webhook",
        action="store_true",
        help="run Plume in webhook mode (the stand-in posts updates to it), as in production",
    )
    sandbox.set_defaults(handler=cmd_sandbox)

    report = commands.add_parser(
        "report", help="the evaluation report (HTML, PDF, CSV, JSON, survey CSV)"
    )
    from bot.reporting.report import add_report_arguments

    add_report_arguments(report)
    report.set_defaults(handler=cmd_report)

    export_faq = commands.add_parser(
        "export-faq", help="write the FAQ (with what staff taught Plume) as DIR/faq.csv"
    )
    export_faq.add_argument("directory", metavar="DIR", help="folder to write faq.csv in")
    export_faq.set_defaults(handler=cmd_export_faq)

    usage = commands.add_parser(
        "import-usage",
        help="import the platforms' usage: COUNTER R5/R5.1 reports (TSV, CSV, JSON) or a CSV "
        "resource_id,month,metric,value",
    )
    usage.add_argument("files", nargs="+", metavar="FILE", help="report files to import")
    usage.set_defaults(handler=cmd_import_usage)

    audit = commands.add_parser("audit", help="list staff accesses to people's data")
    audit.add_argument("--limit", type=int, default=200, help="the latest N lines (200)")
    audit.set_defaults(handler=cmd_audit)

    forget = commands.add_parser("forget", help="erase a person on request (irreversible)")
    forget.add_argument(
        "--user", required=True, metavar="ID", help="their Telegram id, or the pseudonym (U17)"
    )
    forget.set_defaults(handler=cmd_forget)

    register = commands.add_parser(
        "privacy-register", help="the processing-register entry (Markdown), from the settings"
    )
    register.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    register.set_defaults(handler=cmd_privacy_register)

    locales = commands.add_parser("locales", help="extract messages, update the catalogues")
    locales.set_defaults(handler=cmd_locales)
    return parser


def _runner() -> asyncio.Runner:
    """The event loop of a command: uvloop's where it is installed (not on Windows), which
    takes a tenth off the CPU of an answer (``bench/scale.py``), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, (settings.telegram_bot_token,))
    command: Command = args.handler
    from storage.db import DatabaseUnreachable

    try:
        with _runner() as runner:
            return runner.run(command(args, settings))
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except DatabaseUnreachable as error:
        print(f"configuration error: DATABASE_URL: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except OSError as error:  # a missing file or folder, a full disk: one line, not a traceback
        logging.getLogger("bot").debug("%s failed", args.command, exc_info=True)
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
