"""Administrators grant and revoke roles: /roles, /role <telegram id> <role>."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import PlumeContext, PlumeHandler
from bot.shared.labels import ROLE_NAMES
from bot.users import RoleError
from handlers.shared.common import escape, reply, requires
from handlers.shared.menus import names, publish_menu_for
from storage.models import ROLES

ROLE_ALIASES = {
    "patron": "patron",
    "usager": "patron",
    "lecteur": "patron",
    "staff": "staff",
    "bibliothecaire": "staff",
    "bibliothécaire": "staff",
    "coordinator": "coordinator",
    "coordinateur": "coordinator",
    "coordinatrice": "coordinator",
    "admin": "admin",
    "administrator": "admin",
    "administrateur": "admin",
}


@requires("admin")
async def roles(update: Update, context: PlumeContext) -> None:
    t = context.t
    people = await context.services.users.privileged()
    lines = [t("<b>People with a role</b>")]
    lines += [
        f"• {escape(p.first_name or '?')} — <code>{p.telegram_id}</code> — {t(ROLE_NAMES[p.role])}"
        for p in people
    ]
    lines.append(
        t(
            "Change one with /role &lt;Telegram id&gt; &lt;role&gt;; roles: {roles}.",
            roles=", ".join(ROLES),
        )
    )
    await reply(update, "\n".join(lines))


@requires("admin")
async def role(update: Update, context: PlumeContext) -> None:
    t = context.t
    actor = context.person
    assert actor is not None
    args = context.args or []
    usage = t(
        "Usage: /role &lt;Telegram id&gt; &lt;role&gt; — roles: {roles}. The person "
        "finds their id with /whoami; “patron” revokes a role.",
        roles=", ".join(ROLES),
    )
    if len(args) != 2 or not args[0].lstrip("-").isdigit():
        await reply(update, usage)
        return
    new_role = ROLE_ALIASES.get(args[1].lower())
    if new_role is None:
        await reply(update, usage)
        return
    try:
        person = await context.services.users.set_role(actor, int(args[0]), new_role)
    except RoleError as error:
        reasons = {
            "unknown user": t(
                "Nobody with this id has talked to Plume yet: ask them to send /start first."
            ),
            "the last administrator cannot be removed": t(
                "You are the last administrator: name another one first."
            ),
            "this administrator is set by PLUME_ADMINS": t(
                "This administrator is set in the configuration (PLUME_ADMINS)."
            ),
        }
        await reply(update, reasons.get(str(error), usage))
        return
    await publish_menu_for(context.bot, person)
    await reply(
        update,
        t(
            "{name} is now {role}.",
            name=escape(person.first_name or "?"),
            role=t(ROLE_NAMES[person.role]),
        ),
    )


def handlers() -> list[PlumeHandler]:
    return [CommandHandler(names("roles"), roles), CommandHandler(names("role"), role)]
