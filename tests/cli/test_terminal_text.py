"""Issue 18, finding 11: no control, invisible or bidi character from the data reaches the terminal from the CLI.

Stored text (session names and ids, paths, models, errors, property keys and values, user ids, rejected lines, file
names) holds characters drawn from every class a terminal must not get as themselves: C0 and C1 controls, DEL,
format characters, line and paragraph separators, and Unicode's default-ignorable code points (zero-width
characters, tag characters, Hangul fillers, variation selectors, bidi embeddings, overrides and isolates). A real
store is written by `ingest` (and `ingest --follow`), then every command that prints stored text runs in this
process (CliRunner): its human output holds none of them (each shows as a stand-in: ␛, \\u200d), and its `--json`
output holds none raw while reading back as exactly the stored data.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agenttrace_tui import textsafe

from store_helpers import invoke, span, write_jsonl
from fuzz_helpers import long_fuzz, skip_unless_long

ISSUE_INVISIBLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F),
    (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
"""The invisible characters the issue and its brief name, with the rest of Unicode's Default_Ignorable_Code_Point
list (unassigned ones included: a newer terminal may draw them as nothing)."""


def forbidden(char: str) -> bool:
    """What must never reach a terminal from data, decided here apart from textsafe: Unicode's categories of
    controls, format characters, surrogates and separators, and the invisible ranges above."""
    code = ord(char)
    return (unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
            or any(low <= code <= high for low, high in ISSUE_INVISIBLE))


UNSAFE = [chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF and forbidden(chr(code))]
"""Every character the rule covers that UTF-8, and so a trace file, can hold (about 4,600)."""

TEXT = st.text(alphabet=st.one_of(st.sampled_from(sorted(UNSAFE, key=lambda c: unicodedata.category(c) == "Cc")),
                                  st.sampled_from("ab [/]é😀 =\"'")), min_size=1, max_size=12)
"""Invisible characters first (hypothesis starts from, and shrinks towards, the first ones), then controls."""


PRESENTATION = "\ufe0e\ufe0f"
SELECTORS = {chr(c) for c in [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]}


def shown_selector(output: str, index: int) -> bool:
    """textsafe's one exception: a single text or emoji presentation selector right after a visible character
    (⚠️), which carries one bit; a run of selectors, or one after a space or a stand-in-less control, is shown."""
    before = output[index - 1] if index else " "
    after = output[index + 1] if index + 1 < len(output) else ""
    return (output[index] in PRESENTATION and not before.isspace() and not forbidden(before)
            and after not in SELECTORS)


def terminal_bad(output: str) -> list[str]:
    """The forbidden characters in human output; a newline is the renderer's own line break."""
    return sorted({f"U+{ord(c):04X}" for i, c in enumerate(output)
                   if c != "\n" and forbidden(c) and not shown_selector(output, i)})


def json_raw_bad(output: str) -> list[str]:
    """The forbidden characters written raw in JSON output (an escape such as \\u001b is fine: it is ASCII)."""
    return sorted({f"U+{ord(c):04X}" for c in output if forbidden(c) and c != "\n"})


def records(text: str) -> list[dict[str, Any] | str]:
    plain = text.replace("\x00", "")  # a session id is given on the command line, which cannot hold NUL
    return [
        {"type": "session", "session_id": "ID" + plain, "name": "NAME" + text, "user_id": "USER" + text,
         "properties": {"PKEY" + text: "PVAL" + text}},
        span("ID" + plain, span_id="s1", path="/PATH" + text, name="SPAN" + text, model="MODEL" + text,
             duration_ms=5, error={"type": "ETYPE" + text, "message": "EMSG" + text},
             properties={"Agent-Name": "AGENT" + text}),
        json.dumps({"session_id": "REJ" + text, "start_time": "BADTIME" + text}),
    ]


def file_name(text: str) -> str:
    """The text as a file name: no NUL or slash, short enough for any file system (255 bytes)."""
    name = text.replace("\x00", "").replace("/", "")
    while len(("FILE" + name + ".jsonl").encode()) > 255:
        name = name[:-1]
    return "FILE" + name + ".jsonl"


@pytest.fixture
def one_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ingest --follow` does one round and stops, as Ctrl-C would after it."""
    from agenttrace_tui.store.write.follow import Follower

    def run(self: Follower, on_result: Callable[[Any], None], stop: Any, poll_seconds: float = 0) -> None:
        result = self.poll()
        if result is not None:
            on_result(result)

    monkeypatch.setattr(Follower, "run", run)


def outputs(folder: Path, text: str) -> Iterator[tuple[str, str, str]]:
    """(command, stream, output) for every command that prints stored text, over a store holding `text`."""
    traces = folder / "traces"
    traces.mkdir()
    write_jsonl(traces / file_name(text), records(text))
    db = str(folder / "s.duckdb")
    session_id = "ID" + text.replace("\x00", "")
    runs = {
        "ingest": ["ingest", str(traces), "--db", db],
        "ingest --follow": ["ingest", "--follow", str(traces), "--db", str(folder / "f.duckdb")],
        "sessions": ["sessions", "--db", db],
        "show": ["show", session_id, "--spans", "-1", "--db", db],
        "stats": ["stats", "--db", db],
        "stats --by": ["stats", "--by", "prop.Agent-Name", "--db", db],
        "rejects": ["rejects", "--db", db],
        "show missing": ["show", "NOPE" + text.replace("\x00", ""), "--db", db],
    }
    for command, args in runs.items():
        result = invoke(args)
        assert result.returncode in (0, 1, 2), (command, result.stderr)
        yield command, "stdout", result.stdout
        yield command, "stderr", result.stderr


def check(folder: Path, text: str) -> None:
    shown: dict[str, str] = {}
    for command, stream, output in outputs(folder, text):
        assert terminal_bad(output) == [], f"{command} ({stream}) writes {terminal_bad(output)}: {output[:400]!r}"
        shown[command] = shown.get(command, "") + output
    assert "NAME" in shown["show"] and "SPAN" in shown["show"] and "BADTIME" in shown["rejects"]
    assert "FILE" in shown["ingest --follow"] and "following" in shown["ingest --follow"]

    # --json: the same data, every unsafe character written as an escape.
    db = str(folder / "s.duckdb")
    session_id = "ID" + text.replace("\x00", "")
    for args in (["sessions", "--json"], ["show", session_id, "--json"], ["rejects", "--json"],
                 ["stats", "--by", "prop.Agent-Name", "--json"]):
        result = invoke([*args, "--db", db])
        assert result.returncode == 0, result.stderr
        assert json_raw_bad(result.stdout) == [], f"{args[0]} --json writes {json_raw_bad(result.stdout)} raw"
        data = json.loads(result.stdout)
        if args[0] == "sessions":
            assert [row["name"] for row in data] == ["NAME" + text]
            assert data[0]["properties"]["PKEY" + text] == "PVAL" + text
        elif args[0] == "show":
            assert data["session"]["session_id"] == session_id and data["session"]["user_ids"] == ["USER" + text]
        elif args[0] == "rejects":
            assert [json.loads(row["raw"])["start_time"] for row in data] == ["BADTIME" + text]


def test_every_unsafe_character_shows_as_a_stand_in(tmp_path: Path, one_round: None) -> None:
    """All of them at once, in every field: the issue's ESC ]52 clipboard write and ESC [2J among them."""
    check(tmp_path, "\x1b]52;c;ZXZpbA==\x07\x1b[2J" + "".join(UNSAFE))


@pytest.mark.parametrize("char", ["\u200d", "\u2060", "\u00ad", "\u3164", "\U000e0041", "\u115f", "\uffa0",
                                  "\u200c", "\u2028", "\ufe0f\ufe0f", "\U000e0100"])
def test_the_issue_s_invisible_characters_each(char: str) -> None:
    """Each named in the issue is shown as a visible stand-in by the one rule every printer uses."""
    shown = textsafe.sanitize(f"a{char}b")
    assert char[0] not in shown and shown.startswith("a") and shown.endswith("b") and len(shown) >= 3
    assert not forbidden(shown[1])  # a control picture (␡) or an escape (\u200d): visible either way


@pytest.mark.parametrize(("text", "shown"), [
    ("⚠\ufe0f ok", "⚠\ufe0f ok"), ("❤\ufe0e", "❤\ufe0e"),  # one selector after a visible character: an emoji
    ("❤\ufe0f\ufe0f", "❤\\ufe0f\\ufe0f"), ("a\ufe0f\ufe01", "a\\ufe0f\\ufe01"),  # a run: shown
    (" \ufe0f", " \\ufe0f"), ("\ufe0fx", "\\ufe0fx"), ("\u200b\ufe0f", "\\u200b\\ufe0f"),  # after nothing visible
])
def test_a_single_presentation_selector_after_a_visible_character_is_kept(text: str, shown: str) -> None:
    assert textsafe.sanitize(text) == shown


def test_the_rule_covers_unicode_s_lists() -> None:
    """textsafe's ranges hold every character of the categories above and the Default_Ignorable_Code_Point
    property, as the `regex` module's Unicode tables have it (when installed)."""
    def left(chars: list[str]) -> set[str]:  # a stand-in is ASCII or a control picture: never one of these
        return set(chars) & set(textsafe.sanitize("".join(chars)))

    assert left(UNSAFE) == set() and left([chr(c) for c in range(0xD800, 0xE000)]) == set()
    regex = pytest.importorskip("regex")
    ignorable = regex.compile(r"\p{Default_Ignorable_Code_Point}")
    assert left([c for c in map(chr, range(0x110000)) if ignorable.match(c)]) == set()


def test_json_escapes_are_exact_data() -> None:
    """escape_json keeps the document equal for a JSON reader, surrogate pairs for characters past U+FFFF."""
    value = {"k\u200d": ["\x7f\x9b\u2028\U000e0041\U0001f600é", 1]}
    document = textsafe.escape_json(json.dumps(value, ensure_ascii=False).encode())
    assert not any(forbidden(c) for c in document.decode())
    assert json.loads(document) == value
    assert b"\\udb40\\udc41" in document and "😀".encode() in document


@settings(derandomize=True, max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(text=TEXT)
def test_property_no_unsafe_character_reaches_the_terminal(tmp_path_factory: pytest.TempPathFactory,
                                                           one_round: None, text: str) -> None:
    check(tmp_path_factory.mktemp("text"), text)


@long_fuzz
@skip_unless_long
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(text=TEXT)
def test_property_no_unsafe_character_reaches_the_terminal_long(tmp_path_factory: pytest.TempPathFactory,
                                                                one_round: None, text: str) -> None:
    check(tmp_path_factory.mktemp("text"), text)
