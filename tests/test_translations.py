"""The ru and kk gettext catalogs are complete, consistent with their msgids and compiled.

The .po files are parsed here with a small parser (no third-party package), and the committed
.mo files are read with the standard library's gettext, so a stale or missing compile shows up.
"""

from __future__ import annotations

import ast
import gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"
LANGUAGES = ("ru", "kk")
PLURAL_FORMS = {
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "kk": "nplurals=2; plural=(n!=1);",
}
# n -> plural index, per language, as the Plural-Forms above define it.
PLURAL_SAMPLES = {
    "ru": {0: 2, 1: 0, 2: 1, 4: 1, 5: 2, 11: 2, 12: 2, 14: 2, 21: 0, 22: 1, 25: 2, 101: 0, 111: 2},
    "kk": {0: 1, 1: 0, 2: 1, 5: 1, 21: 1},
}

_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")
_BRACE = re.compile(r"\{[A-Za-z_]\w*\}")
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # singular entries use index 0
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None


def parse_po(path: Path) -> list[Entry]:
    """msgctxt/msgid/msgid_plural/msgstr/msgstr[n] with continuation lines; '#,' flags; '#~' skipped."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None
    seen_msgstr = False

    def start(number: int) -> Entry:
        nonlocal seen_msgstr
        if current is not None:
            entries.append(current)
        seen_msgstr = False
        return Entry(line=number)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if current is None or seen_msgstr:
                current = start(number)
            if line.startswith("#,"):
                current.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, literal = match.groups()
            if current is None or (seen_msgstr and not keyword.startswith("msgstr")):
                current = start(number)
            value = ast.literal_eval(literal)
            if keyword == "msgctxt":
                current.msgctxt, target = value, ("msgctxt", 0)
            elif keyword == "msgid":
                current.msgid, target = value, ("msgid", 0)
            elif keyword == "msgid_plural":
                current.msgid_plural, target = value, ("msgid_plural", 0)
            else:
                position = int(index) if index is not None else 0
                current.msgstr[position], target = value, ("msgstr", position)
                seen_msgstr = True
            continue
        assert line.startswith('"') and current is not None and target is not None, f"{path}:{number}: {raw!r}"
        value = ast.literal_eval(line)
        kind, position = target
        if kind == "msgstr":
            current.msgstr[position] += value
        else:
            setattr(current, kind, (getattr(current, kind) or "") + value)
    if current is not None:
        entries.append(current)
    return entries


def header_fields(entries: list[Entry]) -> dict[str, str]:
    header = next(e for e in entries if e.is_header)
    return dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if ": " in line)


def placeholders(text: str, python_format: bool) -> Counter[str]:
    found = Counter(_BRACE.findall(text))
    if python_format:
        found.update(p for p in _PERCENT.findall(text) if p != "%%")
    return found


def po_files() -> list[Path]:
    return sorted(p for lang in LANGUAGES for p in BACKEND.glob(f"**/locale/{lang}/LC_MESSAGES/django.po"))


PO_FILES = po_files()


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_locale_folder_has_both_languages() -> None:
    assert len(PO_FILES) >= 2
    folders = {p.parents[2] for p in PO_FILES}
    for folder in folders:
        for lang in LANGUAGES:
            assert (folder / lang / "LC_MESSAGES" / "django.po").is_file(), f"{folder} has no {lang} catalog"


@pytest.mark.parametrize("po", PO_FILES, ids=_id)
def test_header_names_the_language_utf8_and_its_plural_forms(po: Path) -> None:
    lang = po.parents[1].name
    entries = parse_po(po)
    header = next(e for e in entries if e.is_header)
    fields = header_fields(entries)

    assert "fuzzy" not in header.flags
    assert fields.get("Language") == lang
    assert "charset=UTF-8" in fields.get("Content-Type", "")
    assert fields.get("Plural-Forms", "").rstrip("\n").replace(" ", "") == PLURAL_FORMS[lang].replace(" ", "")


@pytest.mark.parametrize("po", PO_FILES, ids=_id)
def test_every_entry_is_translated_not_fuzzy_and_keeps_placeholders(po: Path) -> None:
    lang = po.parents[1].name
    nplurals = int(PLURAL_FORMS[lang].split(";")[0].split("=")[1])
    entries = [e for e in parse_po(po) if not e.is_header]
    assert entries, f"{po} has no messages"

    for entry in entries:
        where = f"{_id(po)}:{entry.line} {entry.msgid!r}"
        assert "fuzzy" not in entry.flags, f"fuzzy: {where}"
        expected_forms = nplurals if entry.msgid_plural is not None else 1
        assert sorted(entry.msgstr) == list(range(expected_forms)), f"wrong msgstr forms: {where}"
        python_format = "python-format" in entry.flags or "%(" in entry.msgid
        wanted = placeholders(entry.msgid, python_format)
        if entry.msgid_plural is not None:
            wanted = Counter(dict.fromkeys(wanted | placeholders(entry.msgid_plural, python_format), 1))
        for index, text in entry.msgstr.items():
            assert text, f"untranslated: {where} [{index}]"
            got = placeholders(text, python_format)
            if entry.msgid_plural is not None:  # named placeholders: each form must use every one
                got = Counter(dict.fromkeys(got, 1))
            assert got == wanted, f"placeholders {dict(got)} != {dict(wanted)}: {where} [{index}]"
            for edge in (str.startswith, str.endswith):
                for blank in (" ", "\n", "\t"):
                    assert edge(entry.msgid, blank) == edge(text, blank), f"leading/trailing blank differs: {where}"


@pytest.mark.parametrize("po", PO_FILES, ids=_id)
def test_the_mo_file_is_compiled_from_the_current_po(po: Path) -> None:
    lang = po.parents[1].name
    mo = po.with_suffix(".mo")
    assert mo.is_file(), f"{_id(mo)} is missing: run manage.py compilemessages"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    for n, index in PLURAL_SAMPLES[lang].items():
        assert compiled.plural(n) == index, f"{_id(mo)}: plural({n})"
    for entry in parse_po(po):
        if entry.is_header:
            continue
        context = f"{entry.msgctxt}\x04" if entry.msgctxt is not None else ""
        where = f"{_id(mo)} is stale for {entry.msgid!r}: run manage.py compilemessages"
        if entry.msgid_plural is None:
            if entry.msgctxt is None:
                assert compiled.gettext(entry.msgid) == entry.msgstr[0], where
            else:
                assert compiled.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr[0], where
        else:
            for n in PLURAL_SAMPLES[lang]:
                got = compiled.ngettext(context + entry.msgid, entry.msgid_plural, n)
                assert got == entry.msgstr[compiled.plural(n)], where


def _project_translation(lang: str, msgid: str) -> str:
    entries = parse_po(BACKEND / "locale" / lang / "LC_MESSAGES" / "django.po")
    return next(e.msgstr[0] for e in entries if e.msgid == msgid and e.msgid_plural is None)


OTP_SMS = "Brigada code: %(code)s. Valid for %(minutes)d min. Do not share it with anyone."


@pytest.mark.parametrize("lang", LANGUAGES)
def test_django_serves_the_translations_at_run_time(lang: str) -> None:
    with translation.override(lang):
        not_found = translation.gettext("Not found.")
        sms = translation.gettext(OTP_SMS) % {"code": "123456", "minutes": 5}
        too_many = translation.gettext("Too many requests. Try again in %(seconds)d s.") % {"seconds": 30}
        kind = str(translation.gettext_lazy("beauty salon"))
        outbox = [
            translation.ngettext(
                "%(done)d of %(selected)d message %(verb)s.", "%(done)d of %(selected)d messages %(verb)s.", n
            )
            for n in (1, 2, 5)
        ]

    assert not_found == _project_translation(lang, "Not found.")
    assert not_found != "Not found."
    assert "Brigada" in sms and "123456" in sms and "5" in sms
    assert sms != OTP_SMS % {"code": "123456", "minutes": 5}
    assert "30" in too_many and not too_many.startswith("Too many")
    assert kind != "beauty salon"
    assert all("%(done)d" in text and "message" not in text for text in outbox)


def test_russian_uses_three_plural_forms_at_run_time() -> None:
    singular, plural = "%(done)d of %(selected)d message %(verb)s.", "%(done)d of %(selected)d messages %(verb)s."
    with translation.override("ru"):
        one, few, many = (translation.ngettext(singular, plural, n) for n in (21, 3, 11))
    assert "сообщения" in one
    assert "сообщений" in few and "сообщений" in many


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_msgid_has_one_translation_across_catalogs(lang: str) -> None:
    # Django merges every app's catalog into one per language (the first app listed wins), so two
    # catalogs that translate the same msgid differently make the result depend on app order.
    # Give such strings a msgctxt (pgettext) when they really need different translations.
    seen: dict[tuple[str | None, str, str | None], tuple[tuple[str, ...], Path]] = {}
    for po in (p for p in PO_FILES if p.parents[1].name == lang):
        for entry in parse_po(po):
            if entry.is_header:
                continue
            key = (entry.msgctxt, entry.msgid, entry.msgid_plural)
            value = tuple(entry.msgstr[i] for i in sorted(entry.msgstr))
            if key in seen:
                assert seen[key][0] == value, f"{entry.msgid!r}: {_id(seen[key][1])} and {_id(po)} disagree"
            else:
                seen[key] = (value, po)


_GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
SOURCE_PACKAGES = ("backend", "mobile_api", "bots")


def source_msgids(paths: list[Path]) -> set[tuple[str | None, str]]:
    """(msgctxt, msgid) of every translation call whose message is a literal, as makemessages would extract it."""
    found: set[tuple[str | None, str]] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in _GETTEXT_NAMES:
                continue
            literals = [
                a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args
            ]
            if name.startswith("pgettext") and len(literals) >= 2 and literals[0] and literals[1]:
                found.add((literals[0], literals[1]))
            elif literals and literals[0]:
                found.add((None, literals[0]))
    return found


def _source_files() -> list[Path]:
    return sorted(
        path for package in SOURCE_PACKAGES for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_in_the_code_is_in_a_catalog(lang: str) -> None:
    """A string marked for translation but never extracted would reach ru and kk users in English."""
    catalogued = {
        (entry.msgctxt, entry.msgid)
        for po in PO_FILES
        if po.parents[1].name == lang
        for entry in parse_po(po)
        if not entry.is_header
    }
    missing = sorted(source_msgids(_source_files()) - catalogued, key=str)
    assert missing == [], f"run manage.py makemessages -l ru -l kk, translate and compilemessages: {missing[:10]}"


def test_the_extraction_sees_plain_lazy_and_context_calls(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from django.utils.translation import gettext as _, gettext_lazy, pgettext\n"
        '_("plain")\ngettext_lazy("lazy")\npgettext("menu", "open")\n_(f"{1}")\nprint("not marked")\n'
    )
    assert source_msgids([module]) == {(None, "plain"), (None, "lazy"), ("menu", "open")}
