"""The trace format's JSON Schema, `trace-v1.schema.json`: package data, read by `format.json_schema()`."""
