"""What an ordinary question costs the database, in webhook mode (issue 12, point 2).

Each round trip to the database costs the bot CPU (SQLAlchemy and the driver: more than half
of an answer's when this was measured), so a patron's question is held to a budget of
statements: a change that adds one to every answer fails here and has to say why.
"""

from __future__ import annotations

import asyncio

from tests.kit import import_network
from tests.statements import StatementLog

QUESTIONS = [
    "jai oublie mon mdp",
    "film intouchable",
    "des films de Kurosawa",
    "vous avez des bd ?",
    "Kurosawa",
]
#: tasks that write for many updates at once, a batch every 0.1 s (here, questions one after
#: the other: about one update a batch; under load a batch holds dozens)
BATCH_TASKS = {"plume-updates-done", "plume-usage-flush"}
#: round trips of a question in its own task, every one counted (BEGIN and COMMIT too), then
#: with the batches' share. PostgreSQL (what several instances share): the chat's lock with
#: the claim, the person with their conversation states and user_data, the card, the lock's
#: release with the "done" mark; the question's event in a batch (four). SQLite: the claim
#: is a transaction, each read a BEGIN and a ROLLBACK for the driver, the "done" marks a
#: batch. Before these were cut (1 December 2026): 15.6 and 18.6 on PostgreSQL, 16.6 and
#: 19.6 on SQLite; before the person was read with the conversation states (2 December):
#: 5 and 9 on PostgreSQL, 12 and 19 on SQLite.
OWN_BUDGET = {"postgresql": 4, "sqlite": 9}
BUDGET = {"postgresql": 8, "sqlite": 16}


async def test_an_ordinary_question_stays_within_its_statement_budget(
    standin, start_plume, database_url
):
    await import_network(database_url)
    plume = await start_plume(mode="webhook")
    patron = standin.user(3101, first_name="Paule", language_code="fr")
    await patron.send("/start")
    await patron.next_message()
    await patron.press(await patron.next_message(), "Bibliothèque de Bas")
    await patron.wait_for("Quelles annonces")
    for warm_up in ("bonjour", QUESTIONS[0]):  # the person, their actor, the libraries read
        await patron.send(warm_up)
        await patron.next_message()
    await plume.services.answers.settled()
    await standin.wait_idle()
    await asyncio.sleep(0.5)  # the warm-up's "done" marks written (a batch every 0.1 s)

    with StatementLog() as log:
        for question in QUESTIONS:
            await patron.send(question)
            await patron.next_message()
        await plume.services.answers.settled()
        await standin.wait_idle()
        await plume.gate.close()  # flushes what is batched

    updates = log.tasks_that_ran("INSERT INTO handled_updates")
    assert len(updates) == len(QUESTIONS)
    own = log.of_tasks(updates)
    shared = log.of_tasks(BATCH_TASKS)
    backend = plume.services.engine.dialect.name
    own_each = len(own) / len(QUESTIONS)
    each = (len(own) + len(shared)) / len(QUESTIONS)
    report = log.summary(own + shared)
    print(f"\n{backend}: {own_each:.1f} round trips a question, {each:.1f} with batches")
    print(report)
    assert own_each <= OWN_BUDGET[backend], report
    assert each <= BUDGET[backend], report
