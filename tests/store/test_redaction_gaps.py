"""Redaction through a real ingest into a real DuckDB file (issue 18, finding 10): credentials under OTel header
attributes, in URLs and query strings, in error and status messages, under JSON-escaped names, and as arrays or
objects under credential keys never reach the store (by query, and in the file's bytes after CHECKPOINT); words
that only look like credentials (`max_tokens`, a prompt about passwords) are kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from store_helpers import span, write_jsonl
from fuzz_helpers import long_fuzz, skip_unless_long

from agenttrace_tui.interop import otlp_request_to_records
from agenttrace_tui.store import Store
from agenttrace_tui.store.write.redaction import NESTING, REPLACEMENT, redact_sql

START = "2025-01-01T10:00:00Z"


def _store_text(db: Path) -> tuple[str, bytes]:
    """Every row of every table as text, and the file's bytes once everything is checkpointed into it."""
    with duckdb.connect(str(db)) as con:
        tables = [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables "
                                                "WHERE table_type = 'BASE TABLE'").fetchall()]
        dump = "\n".join(str(con.execute(f'SELECT * FROM "{table}"').fetchall()) for table in tables)
        con.execute("CHECKPOINT")
    return dump, b"".join(path.read_bytes() for path in db.parent.glob(db.name + "*"))


def ingest_lines(tmp_path: Path, lines: list[dict[str, Any] | str], name: str = "t") -> tuple[Store, str, bytes]:
    store = Store(tmp_path / f"{name}.duckdb")
    result = store.ingest([str(write_jsonl(tmp_path / f"{name}.jsonl", lines))])
    assert not result.failed_files, result
    dump, data = _store_text(tmp_path / f"{name}.duckdb")
    return store, dump, data


def stored_input(store: Store, span_id: str) -> Any:
    """The span's stored `input`, parsed; None when no such span."""
    with duckdb.connect(str(store.path), read_only=True) as con:
        row = con.execute("SELECT input FROM spans WHERE span_id = ?", [span_id]).fetchone()
    return None if row is None else json.loads(row[0])


def assert_absent(secrets: list[str], dump: str, data: bytes) -> None:
    for secret in secrets:
        assert secret not in dump, secret
        assert secret.encode() not in data, secret


# -- OTLP header attributes ------------------------------------------------------------------------------


def _otlp_records(attributes: dict[str, Any], status: str | None = None,
                  event: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Records from a span made by the real OpenTelemetry SDK, encoded as OTLP/JSON and mapped by our importer."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("POST /v1/chat", attributes=attributes) as current:
        if event is not None:
            current.add_event("exception", attributes=event)
        if status is not None:
            current.set_status(StatusCode.ERROR, status)
    request = MessageToDict(encode_spans(exporter.get_finished_spans()))
    return otlp_request_to_records(request)


OPAQUE = {name: f"Opq{name.replace('-', '')}9f3k2mZ7" for name in
          ("authorization", "xapikey", "cookie", "setcookie", "proxyauth", "grpcauth")}


def test_otlp_header_attributes_are_redacted_in_their_array_form(tmp_path: Path) -> None:
    records = _otlp_records({
        # OTel semantic conventions: http.request.header.<name> holds an array of the header's values
        "http.request.header.authorization": [f"Basic {OPAQUE['authorization']}"],
        "http.request.header.x-api-key": [OPAQUE["xapikey"]],
        "http.request.header.cookie": [f"session={OPAQUE['cookie']}"],
        "http.response.header.set-cookie": [f"a={OPAQUE['setcookie']}; Path=/", "b=2"],
        "http.request.header.proxy-authorization": OPAQUE["proxyauth"],
        "rpc.grpc.request.metadata.authorization": [OPAQUE["grpcauth"]],
        "http.request.header.content-type": ["application/json"],
    })
    _, dump, data = ingest_lines(tmp_path, [json.dumps(record) for record in records])
    assert_absent(list(OPAQUE.values()), dump, data)
    assert "http.request.header.x-api-key" in dump and "application/json" in dump  # names and other headers kept


# -- URLs, query strings, messages ---------------------------------------------------------------------------

TEXT_SECRETS = {
    "url-password": ("https://deploy:Pw4url77secret@git.example.com/repo.git", "Pw4url77secret"),
    "url-no-user": ("redis://:R3dispassw0rd@cache:6379/0", "R3dispassw0rd"),
    "dsn": ("connect to postgresql://app:Pg5ecret9x@db.internal:5432/main failed", "Pg5ecret9x"),
    "api_key": ("GET https://api.example.com/v1/x?api_key=Qk1apikeyvalue&page=2", "Qk1apikeyvalue"),
    "key": ("https://maps.example.com/api?key=Gk2keyvalue0&q=x", "Gk2keyvalue0"),
    "token": ("https://hooks.example.com/h?a=1&token=Tk3tokenvalue", "Tk3tokenvalue"),
    "access_token": ("https://x.example.com/cb#state=1&access_token=At4accessvalue", "At4accessvalue"),
    "sig": ("https://blob.example.com/f?sv=2021&sig=Sg5signaturevalue%3D", "Sg5signaturevalue"),
    "password=": ("login failed for user=bo password=Pw6hunter2 host=db", "Pw6hunter2"),
    "repr": ("TypeError: connect() got {'password': 'Pw7repr', 'host': 'db'}", "Pw7repr"),
    "basic": ("401 from upstream; Authorization: Basic QmFzaWM4c2VjcmV0", "QmFzaWM4c2VjcmV0"),
    "api key:": ("Invalid API key: Ak9opaquevalue provided", "Ak9opaquevalue"),
    "cookie": ("request had Cookie: sid=Ck0cookievalue; theme=Ck0second", "Ck0second"),
    "slack": ("posting with xoxb-1234567890-Sl1slacktoken", "Sl1slacktoken"),
    "jwt": ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.Jw2signaturepart", "Jw2signaturepart"),
    "pem": ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpemkeybody3xyz\n-----END RSA PRIVATE KEY-----", "MIIEpemkeybody3xyz"),
}


def test_secrets_in_urls_queries_and_messages(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [
        span(span_id=f"s{index}", name=name, input={"url": text}, output=f"saw {text}",
             error={"message": text, "type": "ConnectionError"}, status="error")
        for index, (name, (text, _)) in enumerate(TEXT_SECRETS.items())
    ]
    _, dump, data = ingest_lines(tmp_path, lines)
    assert_absent([secret for _, secret in TEXT_SECRETS.values()], dump, data)
    assert "git.example.com/repo.git" in dump and "page=2" in dump  # only the secret goes


def test_otlp_status_and_exception_messages(tmp_path: Path) -> None:
    records = _otlp_records(
        {"url.full": f"https://api.example.com/v1?api_key={OPAQUE['xapikey']}"},
        status=f"upstream said: Authorization: Bearer {OPAQUE['authorization']}",
        event={"exception.type": "OperationalError",
               "exception.message": f"could not connect to mysql://root:{OPAQUE['cookie']}@db:3306",
               "exception.stacktrace": f"  File x, in connect(password='{OPAQUE['proxyauth']}')"},
    )
    _, dump, data = ingest_lines(tmp_path, [json.dumps(record) for record in records])
    assert_absent([OPAQUE[name] for name in ("xapikey", "authorization", "cookie", "proxyauth")], dump, data)
    assert "OperationalError" in dump


# -- names written with JSON escapes, values that are arrays or objects ------------------------------------


def test_credential_names_written_with_json_escapes(tmp_path: Path) -> None:
    lines = [
        '{"session_id":"s1","start_time":"@T","span_id":"a","input":{"Authoriz\\u0061tion":"Esc1authvalue"}}',
        ('{"session_id":"s1","start_time":"@T","span_id":"b","input":{"\\u0070assword":"Esc2pwvalue",'
         '"n":"caf\\u00e9 \\ud83d\\ude00"}}'),
        '{"session_id":"s1","start_time":"@T","span_id":"c","output":"key \\u0073k-Esc3abcdefghijklmnopqrstu"}',
        '{"session_id":"s1","start_time":"@T","span_id":"d","input":{"x\\u002dapi\\u002dkey":["Esc4list"]}}',
    ]
    store, dump, data = ingest_lines(tmp_path, [line.replace("@T", START) for line in lines])
    assert_absent(["Esc1authvalue", "Esc2pwvalue", "Esc3abcdefghijklmnopqrstu", "Esc4list"], dump, data)
    assert stored_input(store, "a") == {"Authorization": REPLACEMENT}  # decoded, with the same value
    assert stored_input(store, "b") == {"password": REPLACEMENT, "n": "café 😀"}


def test_arrays_and_objects_under_credential_keys_are_replaced_whole(tmp_path: Path) -> None:
    nested: Any = "Deep0value"
    for _ in range(NESTING - 1):
        nested = [{"v": nested}]
    lines: list[dict[str, Any] | str] = [
        span(span_id="a", input={"api_key": ["Arr1first", "Arr1second"], "keep": 1}),
        span(span_id="b", input={"credentials": {"user": "bo", "password": "Obj2pw", "n": [1, 2]}}),
        span(span_id="c", input={"auth": nested}),
        span(span_id="d", input={"args": json.dumps({"api_key": ["Str3a", {"k": "Str3b"}], "q": "x"})}),
    ]
    store, dump, data = ingest_lines(tmp_path, lines)
    assert_absent(["Arr1first", "Arr1second", "Obj2pw", "Deep0value", "Str3a", "Str3b"], dump, data)
    assert stored_input(store, "a") == {"api_key": REPLACEMENT, "keep": 1}
    assert json.loads(stored_input(store, "d")["args"]) == {"api_key": REPLACEMENT, "q": "x"}


def test_a_value_nested_too_deep_refuses_its_line_without_keeping_it(tmp_path: Path) -> None:
    deep: Any = "Deep9secret"
    for _ in range(NESTING + 1):
        deep = [deep]
    store, dump, data = ingest_lines(tmp_path, [span(span_id="deep", input={"password": deep, "user": "bo"}),
                                                span(span_id="fine")])
    assert_absent(["Deep9secret"], dump, data)
    with duckdb.connect(str(store.path), read_only=True) as con:
        assert con.execute("SELECT list(span_id) FROM spans").fetchone() == (["fine"],)
    [reject] = store.rejects()
    assert "nested deeper than" in reject["reason"] and '"password"' in reject["raw"]


# -- what is not a credential -----------------------------------------------------------------------------


def test_words_that_only_look_like_credentials_are_kept(tmp_path: Path) -> None:
    kept = {
        "max_tokens": 512, "token_count": 7, "input_tokens": 3, "tokens": ["a", "b"], "token": "Hello",
        "eos_token": "</s>", "author": "Ann", "secretary": "Sam", "session_id_hint": "x", "keyword": "k",
        "prompt": "Which password manager should I use? Never share your password.",
        "url": "http://localhost:8080/v1/chat?model=gpt-4o&stream=true",
        "logprobs": [{"token": "Hi", "logprob": -0.1}],
    }
    store, _, _ = ingest_lines(tmp_path, [span(span_id="a", input=kept, usage={"input_tokens": 3, "output_tokens": 4})])
    assert stored_input(store, "a") == kept


# -- a property: a secret anywhere we know never reaches the store ----------------------------------------

_SECRET = st.text(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789_-."),
                  min_size=6, max_size=30).map(lambda text: "Zq8" + text)
_KEYS = st.sampled_from([
    "authorization", "Authorization", "proxy-authorization", "x-api-key", "X-Api-Key", "api_key", "apiKey",
    "OPENAI_API_KEY", "anthropic-api-key", "password", "db.password", "client_secret", "secret", "passwd",
    "access_token", "refresh_token", "githubToken", "private_key", "cookie", "set-cookie", "credentials",
    "http.request.header.authorization", "http.request.header.x-api-key", "http.request.header.cookie",
    "http.response.header.set-cookie", "rpc.grpc.request.metadata.authorization", "helicone-auth",
])
_SHAPES = st.sampled_from(["string", "array", "object", "nested"])
_TEXTS = st.sampled_from([
    "https://user:{s}@host.example/x", "postgres://u:{s}@db:5432/x", "GET /x?api_key={s}&y=1", "?token={s}",
    "&access_token={s}", "?key={s}", "?sig={s}", "password={s}", "password: {s}", "{{'password': '{s}'}}",
    "Authorization: Bearer {s}", "Authorization: Basic {s}", "x-api-key: {s}", "Cookie: a=1; b={s}",
    "api_key={s}", "client_secret={s}",
])


def _escaped_name(name: str, draw_at: int) -> str:
    """The name with one letter written as a JSON escape, as JSON text (quotes included)."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    at = letters[draw_at % len(letters)]
    return '"' + name[:at] + f"\\u{ord(name[at]):04x}" + name[at + 1:] + '"'


@st.composite
def placements(draw: st.DrawFn) -> tuple[str, str]:
    """One line (JSON text) with one secret in a place the rules know; and the secret."""
    secret = draw(_SECRET)
    if draw(st.booleans()):
        text = draw(_TEXTS).format(s=secret)
        where = draw(st.sampled_from(["input", "error", "tool-args"]))
        body = ({"input": {"note": text}} if where == "input" else
                {"error": {"message": text}, "status": "error"} if where == "error" else
                {"output": {"arguments": json.dumps({"q": text})}})
        return json.dumps(span(**body)), secret
    key, shape = draw(_KEYS), draw(_SHAPES)
    value: Any = {"string": secret, "array": [secret, "x"], "object": {"v": secret, "n": 1},
                  "nested": [{"v": [secret]}]}[shape]
    value_text = json.dumps(value)
    name_text = _escaped_name(key, draw(st.integers(0, 50))) if draw(st.booleans()) else json.dumps(key)
    member = f"{name_text}: {value_text}"
    if draw(st.booleans()):  # inside a JSON string holding JSON (tool-call arguments), unescaped name only
        return json.dumps(span(input={"arguments": "{" + f"{json.dumps(key)}: {value_text}" + "}"})), secret
    container = draw(st.sampled_from(["input", "headers-like", "otel"]))
    inner = {"input": '{"input": {%s}}', "headers-like": '{"extra": {"h": [{%s}]}}',
             "otel": '{"otel": {"attributes": {%s}}}'}[container] % member
    return json.dumps(span())[:-1] + ", " + inner[1:], secret


def _property(tmp_path: Path, cases: list[tuple[str, str]], run: int) -> None:
    lines = [line for line, _ in cases]
    with duckdb.connect() as con:  # the SQL on its own too, all lines in one statement
        redacted = con.execute(f"SELECT list({redact_sql('t', as_json=False)} ORDER BY i) "
                               "FROM unnest(?) WITH ORDINALITY AS u(t, i)", [lines]).fetchone()
    assert redacted is not None
    for (line, secret), text in zip(cases, redacted[0], strict=True):
        assert secret not in text, line
    _, dump, data = ingest_lines(tmp_path, list(lines), name=f"p{run}")
    assert_absent([secret for _, secret in cases], dump, data)


_RUNS = iter(range(10**9))


@settings(derandomize=True, max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(placements(), min_size=1, max_size=40))
def test_property_a_secret_in_a_known_place_never_reaches_the_store(tmp_path: Path,
                                                                   cases: list[tuple[str, str]]) -> None:
    _property(tmp_path, cases, next(_RUNS))


@long_fuzz
@skip_unless_long
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(placements(), min_size=1, max_size=60))
def test_property_a_secret_in_a_known_place_never_reaches_the_store_long(tmp_path: Path,
                                                                        cases: list[tuple[str, str]]) -> None:
    _property(tmp_path, cases, next(_RUNS))
