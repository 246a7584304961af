"""``peakday schema``: every field described for editors, every default valid by its own rules."""

from __future__ import annotations

import json

import jsonschema
import pytest

from peakday.cli import app


@pytest.fixture(scope="module")
def document() -> dict:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    return json.loads(result.stdout)


def _properties(document: dict):
    yield from (("Scenario", key, prop) for key, prop in document["properties"].items())
    for model, schema in document["$defs"].items():
        for key, prop in schema.get("properties", {}).items():
            yield model, key, prop


def test_every_field_has_a_description(document):
    missing = [f"{model}.{key}" for model, key, prop in _properties(document)
               if not prop.get("description")]
    assert missing == []


def test_unit_fields_name_their_unit(document):
    answer = document["$defs"]["SupportSlo"]["properties"]["answer_within"]
    assert answer["default"] == "20s"
    assert answer["description"].startswith("The service level's answer time (a duration")


def test_every_default_passes_its_own_schema(document):
    """An editor must not flag a default as invalid (``answer_within: 20.0`` did)."""
    checked = 0
    for model, key, prop in _properties(document):
        if "default" not in prop:
            continue
        rules = {k: v for k, v in prop.items() if k != "default"}
        validator = jsonschema.Draft202012Validator({**rules, "$defs": document["$defs"]})
        errors = [e.message for e in validator.iter_errors(prop["default"])]
        assert errors == [], f"{model}.{key} default {prop['default']!r}: {errors}"
        checked += 1
    assert checked > 50

