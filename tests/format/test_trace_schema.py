"""The shipped JSON Schema: every sample trace line validates, and the documented rules hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from agenttrace_tui.format import json_schema
from format_records import BAD_RECORDS, GOOD_RECORDS

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_traces"
FORMAT_DOC = Path(__file__).resolve().parents[2] / "docs" / "trace-format.md"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_every_sample_line_validates(validator: Draft202012Validator) -> None:
    files = sorted(SAMPLE_DIR.glob("*.jsonl"))
    assert files, f"no sample traces in {SAMPLE_DIR}"
    checked_lines = 0
    for file in files:
        for number, line in enumerate(file.read_text("utf-8").splitlines(), start=1):
            errors = [e.message for e in validator.iter_errors(json.loads(line))]
            assert not errors, f"{file.name}:{number}: {errors}"
            checked_lines += 1
    assert checked_lines > 0


def doc_examples() -> list[Any]:
    """Every JSON value in the ```json blocks of docs/trace-format.md (a block may hold several lines)."""
    decoder = json.JSONDecoder()
    examples: list[Any] = []
    for block in re.findall(r"```json\n(.*?)```", FORMAT_DOC.read_text("utf-8"), re.S):
        text, position = block.strip(), 0
        while position < len(text):
            value, position = decoder.raw_decode(text, position)
            examples.append(value)
            while position < len(text) and text[position].isspace():
                position += 1
    return examples


def test_doc_examples_validate(validator: Draft202012Validator) -> None:
    examples = doc_examples()
    assert len(examples) >= 6
    for example in examples:
        errors = [e.message for e in validator.iter_errors(example)]
        assert not errors, f"{example}: {errors}"



@pytest.mark.parametrize("name", sorted(GOOD_RECORDS))
def test_good_records_accepted(validator: Draft202012Validator, name: str) -> None:
    errors = [e.message for e in validator.iter_errors(GOOD_RECORDS[name])]
    assert not errors, errors


@pytest.mark.parametrize("name", sorted(BAD_RECORDS))
def test_bad_records_rejected(validator: Draft202012Validator, name: str) -> None:
    assert not validator.is_valid(BAD_RECORDS[name])


def test_schema_names_every_format_field() -> None:
    from agenttrace_tui.format import SESSION_FIELDS, SPAN_FIELDS

    schema = json_schema()
    span_fields = set(schema["$defs"]["span"]["properties"]) | set(schema["properties"])
    session_fields = set(schema["$defs"]["session"]["properties"]) | set(schema["properties"])
    assert set(SPAN_FIELDS) <= span_fields
    assert set(SESSION_FIELDS) <= session_fields


def test_schema_bounds_are_the_stores() -> None:
    """The maxima the schema states are format.NUMBER_RANGES, the bounds the ingest and the collector check."""
    from agenttrace_tui.format import NUMBER_RANGES

    schema = json_schema()
    defs, span_fields = schema["$defs"], schema["$defs"]["span"]["properties"]

    def bounds(node: dict[str, Any]) -> tuple[Any, Any]:
        target = defs[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
        return node.get("minimum", target.get("minimum")), node.get("maximum", target.get("maximum"))

    usage = defs["usage_object"]["properties"]
    for field, expected in NUMBER_RANGES.items():
        node = usage[field.split(".", 1)[1]] if field.startswith("usage.") else span_fields[field]
        assert bounds(node) == expected, field
