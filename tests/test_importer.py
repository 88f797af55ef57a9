import codecs
import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.demo import demo_export
from bot.importer.service import Importer
from storage.models import FaqEntry, Item, Library, Meta, Resource, Workshop

LIBRARIES = """id,name,commune,address,phone,email,opening_hours
lib-a,Médiathèque d'Amont,Amont,1 rue Haute,01 00 00 00 01,a@x.example,mar 14h-18h
lib-b,Bibliothèque de Bas,Bas,,,,
"""
RESOURCES = """id,media_type,name,description,access,url,keywords
res-ebooks,ebook,Livres numériques,"Romans, BD",3 prêts,https://x.example/livres,livre; bd ;roman
res-vod,video,Cinéma,Films,4 films par mois,https://x.example/vod,film;vidéo
"""
ITEMS = """id,resource_id,media_type,title,creator,year,genres,language,added_on
it-1,res-ebooks,ebook,Astérix le Gaulois,Goscinny,1961,bande dessinée;humour,fr,2026-01-02
it-2,res-vod,video,Intouchables,Olivier Nakache,2011,comédie,fr,2026-03-04
"""
FAQ = """id,question,answer,alternatives,resource_id
faq-mdp,J'ai oublié mon mot de passe,Cliquez sur « oublié ».,mdp oublié|mot de passe perdu,
faq-vod,Combien de films par mois ?,Quatre.,quota films,res-vod
"""
WORKSHOPS = """id,library_id,title,description,starts_at,duration_min,capacity,media_type
ws-1,lib-a,Liseuse,Découverte,2026-12-05T10:00:00+01:00,90,8,ebook
ws-2,lib-b,Jeux,,2027-07-01T14:00:00+02:00,60,10,
"""


def write_export(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {
        "libraries": LIBRARIES,
        "resources": RESOURCES,
        "items": ITEMS,
        "faq": FAQ,
        "workshops": WORKSHOPS,
    }
    for name, content in {**defaults, **files}.items():
        if content is not None:
            (folder / f"{name}.csv").write_text(content, encoding="utf-8")
    return folder


async def count(engine, model) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(model))


async def test_import_then_reimport_changes_nothing(engine, tmp_path):
    folder = write_export(tmp_path / "export")
    report = await Importer(engine).run(folder)
    assert report.errors == []
    assert [(f.name, f.imported) for f in report.files] == [
        ("libraries.csv", 2),
        ("resources.csv", 2),
        ("items.csv", 2),
        ("faq.csv", 2),
        ("workshops.csv", 2),
    ]
    assert report.added_titles == {
        "ebook": ["Livres numériques", "Astérix le Gaulois"],
        "video": ["Cinéma", "Intouchables"],
    }
    again = await Importer(engine).run(folder)
    assert (again.imported, again.updated, again.rejected) == (0, 0, 0)
    assert sum(f.unchanged for f in again.files) == 10
    assert not again.changed
    async with engine.connect() as conn:
        assert await conn.scalar(select(Meta.value).where(Meta.key == "catalogue_version")) == "1"
        resource = (await conn.execute(select(Resource).where(Resource.id == "res-ebooks"))).one()
        assert resource.keywords == "livre;bd;roman"
        workshop = (
            await conn.execute(select(Workshop.starts_at).where(Workshop.id == "ws-1"))
        ).scalar_one()
        assert workshop.replace(tzinfo=dt.UTC) == dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
        faq = (await conn.execute(select(FaqEntry).where(FaqEntry.id == "faq-vod"))).one()
        assert faq.resource_id == "res-vod" and faq.alternatives == "quota films"


async def test_edited_rows_are_updated(engine, tmp_path):
    await Importer(engine).run(write_export(tmp_path / "v1"))
    edited = ITEMS.replace("Intouchables,Olivier Nakache", "Intouchables,Nakache et Toledano")
    edited += "it-3,res-vod,video,Rashōmon,Akira Kurosawa,1950,drame,ja,2026-05-06\n"
    report = await Importer(engine).run(write_export(tmp_path / "v2", items=edited))
    items = next(f for f in report.files if f.name == "items.csv")
    assert (items.imported, items.updated, items.unchanged) == (1, 1, 1)
    async with engine.connect() as conn:
        creator = await conn.scalar(select(Item.creator).where(Item.id == "it-2"))
        assert creator == "Nakache et Toledano"
        assert await conn.scalar(select(Meta.value).where(Meta.key == "catalogue_version")) == "2"


BROKEN_ITEMS = """id,resource_id,media_type,title,creator,year,genres,language,added_on
it-1,res-ebooks,ebook,Bon titre,,,,fr,2026-01-02
,res-ebooks,ebook,Sans identifiant,,,,fr,
it-3,res-ebooks,podcast,Type inconnu,,,,fr,
it-4,res-nowhere,ebook,Ressource absente,,,,fr,
it-5,res-ebooks,ebook,Mauvaise date,,,,fr,02/01/2026
it-6,res-ebooks,ebook,Mauvaise année,,deux mille,,fr,
it-7,res-ebooks,ebook,"Titre, avec virgule",,2001,,fr,
"""
BROKEN_WORKSHOPS = """id,library_id,title,description,starts_at,duration_min,capacity,media_type
ws-1,lib-a,Sans fuseau,,2026-12-05T10:00:00,90,8,
ws-2,lib-z,Bibliothèque absente,,2026-12-05T10:00:00+01:00,90,8,
ws-3,lib-a,Capacité nulle,,2026-12-05T10:00:00+01:00,90,0,
"""


async def test_bad_rows_are_reported_and_skipped(engine, tmp_path):
    folder = write_export(tmp_path / "broken", items=BROKEN_ITEMS, workshops=BROKEN_WORKSHOPS)
    report = await Importer(engine).run(folder)
    assert report.errors == [
        "items.csv:3: missing id",
        "items.csv:4: unknown media type 'podcast' (expected one of ebook, press, video, music, "
        "training, game)",
        "items.csv:5: unknown resource 'res-nowhere'",
        "items.csv:6: bad date '02/01/2026' in added_on (expected YYYY-MM-DD)",
        "items.csv:7: bad year 'deux mille': not a whole number",
        "workshops.csv:2: bad date '2026-12-05T10:00:00' in starts_at: the UTC offset is missing",
        "workshops.csv:3: unknown library 'lib-z'",
        "workshops.csv:4: bad capacity 0: must be at least 1",
    ]
    assert await count(engine, Item) == 2
    assert await count(engine, Workshop) == 0
    assert report.rejected == 8


async def test_strict_rejects_everything(engine, tmp_path):
    folder = write_export(tmp_path / "broken", items=BROKEN_ITEMS)
    report = await Importer(engine).run(folder, strict=True)
    assert report.strict_failed
    assert "nothing was imported" in report.summary()
    assert await count(engine, Library) == 0
    assert await count(engine, Item) == 0


async def test_absent_files_and_line_numbers_with_multiline_fields(engine, tmp_path):
    folder = write_export(
        tmp_path / "partial",
        items=None,
        faq=None,
        workshops=None,
        resources=RESOURCES.replace('"Romans, BD"', '"Romans,\nBD"') + "res-bad,cinema,X,,,,\n",
    )
    report = await Importer(engine).run(folder)
    assert [f.name for f in report.files] == ["libraries.csv", "resources.csv"]
    assert report.errors == [
        "resources.csv:5: unknown media type 'cinema' (expected one of ebook, press, video, "
        "music, training, game)"
    ]


async def test_demo_network_imports_cleanly(engine):
    with demo_export(ZoneInfo("Europe/Paris"), today=dt.date(2026, 3, 1)) as folder:
        report = await Importer(engine).run(folder)
    assert report.errors == []
    assert await count(engine, Library) >= 5
    assert await count(engine, Resource) >= 6
    assert await count(engine, FaqEntry) >= 20
    assert await count(engine, Item) >= 100
    async with engine.connect() as conn:
        starts = list(await conn.scalars(select(Workshop.starts_at)))
    assert starts and all(
        s.replace(tzinfo=dt.UTC) > dt.datetime(2026, 3, 1, tzinfo=dt.UTC) for s in starts
    )


def test_cli_import_reports_and_exit_codes(tmp_path):
    root = Path(__file__).resolve().parent.parent
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(root),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
    }
    folder = write_export(tmp_path / "broken", items=BROKEN_ITEMS)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot", "import", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    strict = cli(str(folder), "--strict")
    assert strict.returncode == 1
    assert "items.csv:3: missing id" in strict.stderr
    normal = cli(str(folder))
    assert normal.returncode == 1  # rows were rejected
    assert "items.csv: 2 imported, 0 updated, 0 unchanged, 5 rejected" in normal.stdout
    assert "total: 10 imported, 0 updated, 5 rejected" in normal.stdout
    assert cli().returncode == 2
    assert cli(str(tmp_path / "nowhere")).returncode == 1
    clean = cli(str(write_export(tmp_path / "clean")))
    assert clean.returncode == 0, clean.stderr
    assert clean.stderr == ""


# --- files as people make them: Excel, BOMs, semicolons ------------------------------------


def excel_csv(text: str) -> bytes:
    """What Excel's "CSV (séparateur : point-virgule)" writes on a French Windows: ``;``,
    Windows-1252, CRLF, fields holding a ``;`` quoted."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("cp1252")


EXCEL_RESOURCES = RESOURCES.replace("Romans, BD", "Romans, BD, œuvres à 0 €")


def write_excel_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "libraries": LIBRARIES,
        "resources": EXCEL_RESOURCES,
        "items": ITEMS,
        "faq": FAQ.replace("« oublié »", '"oublié"'),  # cp1252 has « » too, but keep it plain
        "workshops": WORKSHOPS,
    }
    for name, content in files.items():
        (folder / f"{name}.csv").write_bytes(excel_csv(content))
    return folder


async def test_an_excel_made_export_imports_with_a_warning(engine, tmp_path):
    folder = write_excel_export(tmp_path / "excel")
    assert b";" in (folder / "libraries.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        (folder / "libraries.csv").read_bytes().decode("utf-8")
    report = await Importer(engine).run(folder)
    assert report.errors == []
    assert not report.failed
    assert report.warnings == [
        f"{name}: not UTF-8: read as Windows-1252 (as Excel saves CSV); check the accents, "
        "or save the file as 'CSV UTF-8'"
        for name in ("libraries.csv", "resources.csv", "items.csv", "faq.csv", "workshops.csv")
    ]
    assert [(f.name, f.imported) for f in report.files] == [
        ("libraries.csv", 2),
        ("resources.csv", 2),
        ("items.csv", 2),
        ("faq.csv", 2),
        ("workshops.csv", 2),
    ]
    async with engine.connect() as conn:
        names = set(await conn.scalars(select(Library.name)))
        description = await conn.scalar(
            select(Resource.description).where(Resource.id == "res-ebooks")
        )
        keywords = await conn.scalar(select(Resource.keywords).where(Resource.id == "res-ebooks"))
    assert names == {"Médiathèque d'Amont", "Bibliothèque de Bas"}
    assert description == "Romans, BD, œuvres à 0 €"
    assert keywords == "livre;bd;roman"  # the quoted ';' inside a ';'-separated file


async def test_utf8_with_a_bom_and_semicolons(engine, tmp_path):
    folder = tmp_path / "bom"
    folder.mkdir()
    text = LIBRARIES.replace(",", ";")
    (folder / "libraries.csv").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    report = await Importer(engine).run(folder)
    assert (report.errors, report.warnings) == ([], [])
    async with engine.connect() as conn:
        assert "Médiathèque d'Amont" in set(await conn.scalars(select(Library.name)))


async def test_latin1_that_is_not_windows_1252(engine, tmp_path):
    folder = tmp_path / "latin1"
    folder.mkdir()
    # 0x81 is unassigned in Windows-1252: only Latin-1 reads this file
    content = "id,name\nlib-a,Médiathèque\x81\n".encode("latin-1")
    (folder / "libraries.csv").write_bytes(content)
    report = await Importer(engine).run(folder)
    assert report.errors == []
    assert report.warnings == [
        "libraries.csv: not UTF-8: read as Latin-1 (ISO-8859-1) (as Excel saves CSV); "
        "check the accents, or save the file as 'CSV UTF-8'"
    ]


async def test_a_rejected_file_is_reported_once_not_for_each_dependent_row(engine, tmp_path):
    items = ITEMS + "".join(
        f"it-{n},res-ebooks,ebook,Titre {n},,,,fr,2026-01-02\n" for n in range(3, 503)
    )
    folder = write_export(
        tmp_path / "export",
        resources=RESOURCES.replace("id,media_type,name", "identifiant,type,nom"),
        items=items,
        faq=None,
    )
    report = await Importer(engine).run(folder)
    assert report.errors == [
        "resources.csv: rejected: missing columns id, media_type, name in the header "
        "'identifiant,type,nom,description,access,url,keywords' (separators tried: ',', ';', tab)",
        "items.csv: 502 rows skipped: they refer to resources.csv, which was rejected",
    ]
    assert report.failed
    assert "resources.csv: rejected, nothing read from it" in report.summary()
    assert "total: 4 imported, 0 updated, 502 rejected, 1 file rejected" in report.summary()


async def test_many_rows_with_the_same_fault_are_counted_after_twenty(engine, tmp_path):
    items = "id,resource_id,media_type,title\n" + "".join(
        f"it-{n},res-ebooks,podcast,Titre {n}\n" for n in range(1, 101)
    )
    report = await Importer(engine).run(write_export(tmp_path / "export", items=items))
    assert len(report.errors) == 21
    assert report.errors[0].startswith("items.csv:2: unknown media type 'podcast'")
    assert report.errors[19].startswith("items.csv:21: unknown media type 'podcast'")
    assert report.errors[20] == "items.csv: 80 more rows rejected: unknown media type"
    assert report.rejected == 100


async def test_a_spreadsheet_saved_as_csv_is_rejected_with_its_reason(engine, tmp_path):
    folder = write_export(tmp_path / "export", libraries=None)
    (folder / "libraries.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(200))
    report = await Importer(engine).run(folder)
    assert report.errors[0] == (
        "libraries.csv: rejected: this is a spreadsheet (.xlsx), not CSV text: save it as CSV"
    )
    assert report.errors[1] == (
        "workshops.csv: 2 rows skipped: they refer to libraries.csv, which was rejected"
    )


def test_cli_imports_an_excel_export_warns_and_exits_0(tmp_path):
    root = Path(__file__).resolve().parent.parent
    folder = write_excel_export(tmp_path / "excel")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "import", str(folder)],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(root),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: libraries.csv: not UTF-8: read as Windows-1252")
    assert "total: 10 imported, 0 updated, 0 rejected" in result.stdout
