"""Tunes the answer decision's thresholds (``bot.answering.judge.Params``) on labelled questions.

    python bench/tune_judge.py [--questions FILE ...] [--check FILE] [--trials 400]

Each question goes once through the bot's own decision (``Responder``: chat replies, library
cards, the search and the semantic signal); what the search and the model found for it is
kept, so that each set of thresholds is judged again on the same candidates in milliseconds.
A random search over the parameters keeps the set that answers the most questions right
while wrong answers stay at most ``--max-wrong`` and honest "I don't know" at least
``--min-honest`` (both as shares, as ``bench/search_quality.py`` counts them).

Tune only on the tuning sets (``bench/questions-tuning*.jsonl``); ``--check`` prints the
figures of a set the search never saw (``bench/questions-unseen.jsonl``), before and after,
for the record: never pick parameters by what it says.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_quality import Question, Tally, evaluate, plume_system, read_questions, shared_dir

from bot.answering.judge import DEFAULT, Params
from bot.answering.responder import Found, Responder

#: the ranges tried (uniformly) for each parameter
SPACE: dict[str, tuple[float, float]] = {
    "semantic_weight": (0.15, 0.45),
    "semantic_floor": (0.3, 0.5),
    "semantic_ceiling": (0.6, 0.85),
    "semantic_alone": (0.45, 0.8),
    "answer": (0.35, 0.6),
    "sure": (0.5, 0.8),
    "answer_margin": (0.0, 0.25),
    "suggest": (0.05, 0.35),
    "see_also": (0.1, 0.35),
    "item_min_coverage": (0.55, 0.9),
    "common_word_factor": (0.3, 0.7),
    "agreement": (0.3, 0.8),
    "question_item_factor": (0.5, 0.9),
    "faq_min_coverage": (0.4, 0.75),
    "both_first": (0.4, 0.6),
    "both_first_lexical": (0.0, 0.2),
    "both_first_cosine": (0.4, 0.6),
    "clear_nearest": (0.4, 0.7),
    "clear_nearest_cosine": (0.45, 0.7),
    "clear_nearest_lead": (0.05, 0.3),
}


class Recording(Responder):
    """The bot's Responder, keeping what each message's readings found (searched once)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.found: dict[tuple[str, tuple[str, ...], str | None], list[Found]] = {}

    async def _found(
        self, text: str, sentences: tuple[str, ...], typed: str | None = None
    ) -> list[Found]:
        key = (text, sentences, typed)
        if key not in self.found:
            self.found[key] = await super()._found(text, sentences, typed)
        return self.found[key]


def figures(tally: Tally) -> dict[str, float]:
    def rate(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    return {
        "right": rate(tally.answered_right, tally.answerable),
        "top3": rate(tally.shown_top3, tally.answerable),
        "honest": rate(tally.honest_none, tally.unanswerable),
        "wrong": rate(tally.wrong_answers, tally.questions),
    }


def line(name: str, f: dict[str, float]) -> str:
    return (
        f"  {name:<28} answered right {f['right']:6.1%}  shown top 3 {f['top3']:6.1%}  "
        f"honest none {f['honest']:6.1%}  wrong {f['wrong']:5.1%}"
    )


def sample(rng: random.Random) -> Params:
    values = {name: rng.uniform(low, high) for name, (low, high) in SPACE.items()}
    values["lexical_weight"] = 1 - values["semantic_weight"]
    values["sure"] = max(values["sure"], values["answer"])
    values = {k: round(v, 3) for k, v in values.items()}
    return dataclasses.replace(DEFAULT, **values)


async def run(args: argparse.Namespace, tuning: list[Question], check: list[Question]) -> None:
    from bot.answering.semantic import load_encoder, refresh_embeddings
    from bot.importer.service import Importer
    from bot.search import SearchService
    from storage.db import create_engine, migrate, session_factory

    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(directory) / 'plume.sqlite3'}")
        try:
            await migrate(engine)
            await Importer(engine).run(args.data, progress=False)
            sessions = session_factory(engine)
            search = SearchService(sessions)
            await search.reload()
            encoder = load_encoder()
            if encoder is None:
                print("the semantic model is not installed: nothing to tune with it")
                return
            await refresh_embeddings(sessions, encoder)
            responder = Recording(sessions, search, encoder)
            await responder.warm_up()
            ask = plume_system(responder)

            async def score(params: Params, questions: Sequence[Question]) -> dict[str, float]:
                responder.params = params
                return figures(await evaluate("", ask, questions))

            base = await score(DEFAULT, tuning)
            print(f"{len(tuning)} tuning questions; the thresholds in bot/answering/judge.py:")
            print(line("current, tuning sets", base))
            if check:
                print(line("current, checked set", await score(DEFAULT, check)))
            rng = random.Random(args.seed)
            best, best_f = DEFAULT, base

            def fits(f: dict[str, float]) -> bool:
                return f["wrong"] <= args.max_wrong and f["honest"] >= args.min_honest

            def better(f: dict[str, float], than: dict[str, float]) -> bool:
                if fits(f) != fits(than):
                    return fits(f)
                if not fits(f):  # neither fits: the fewer wrong answers
                    return f["wrong"] - f["right"] / 10 < than["wrong"] - than["right"] / 10
                return (f["right"], f["top3"]) > (than["right"], than["top3"])

            for trial in range(args.trials):
                params = sample(rng)
                f = await score(params, tuning)
                if better(f, best_f):
                    best, best_f = params, f
                    print(line(f"trial {trial}", best_f))
            print("\nbest on the tuning sets:")
            print(line("tuning sets", best_f))
            if check:
                print(line("checked set (never tuned on)", await score(best, check)))
            changed = {
                f.name: getattr(best, f.name)
                for f in dataclasses.fields(Params)
                if getattr(best, f.name) != getattr(DEFAULT, f.name)
            }
            print(f"parameters: {changed}")
        finally:
            await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=shared_dir() / "data")
    parser.add_argument(
        "--questions",
        type=Path,
        nargs="+",
        default=[here / "questions-tuning.jsonl", here / "questions-tuning2.jsonl"],
    )
    parser.add_argument("--check", type=Path, help="a set never tuned on, printed only")
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-wrong", type=float, default=0.03)
    parser.add_argument("--min-honest", type=float, default=0.9)
    args = parser.parse_args()
    if not (args.data / "faq.csv").exists():
        print(f"skipped: no data in {args.data} (set PLUME_SHARED_DIR or pass --data)")
        return 0
    tuning = [q for path in args.questions if path.exists() for q in read_questions(path)]
    check = read_questions(args.check) if args.check and args.check.exists() else []
    asyncio.run(run(args, tuning, check))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
