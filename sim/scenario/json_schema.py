"""The scenario's JSON Schema, as editors show it: field descriptions and defaults written the
way a scenario writes them.

Descriptions come from the docstrings under each field in :mod:`.schema` (pydantic's
``use_attribute_docstrings``), followed by the unit hint of the field's type ("a duration like
250ms"). Defaults are serialised through the field's own serializer, so a default reads
``20s`` rather than the 20.0 seconds it holds, and passes the schema's own pattern.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema, SchemaSerializer, core_schema, to_jsonable_python

from .schema import Scenario
from .types import UNIT_SCHEMAS


class ScenarioJsonSchema(GenerateJsonSchema):
    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if "default" in json_schema:
            json_schema["default"] = _human(schema["schema"], schema.get("default"))
        return json_schema

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # the key is its own title; editors show the description


def _human(inner: CoreSchema, default: object) -> object:
    """A default as a scenario file spells it: models dump through their fields' serializers,
    annotated types (durations, clock times, distributions) through theirs."""
    if isinstance(default, BaseModel):
        return default.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if "serialization" in inner:
        return SchemaSerializer(inner).to_python(default, mode="json")
    return to_jsonable_python(default)


def _describe(node: object) -> None:
    """Give every property its type's unit hint after its own description."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for prop in properties.values():
                if isinstance(prop, dict):
                    _join(prop)
        for value in node.values():
            _describe(value)
    elif isinstance(node, list):
        for value in node:
            _describe(value)


def _join(prop: dict) -> None:
    """A field's docstring replaces its type's description in pydantic's output; the type is
    recognised by its schema (a duration's pattern, a fraction's anyOf) and its hint added."""
    own = prop.get("description")
    for shape, hint in UNIT_SCHEMAS:
        matches = all(prop.get(k) == v for k, v in shape.items() if k != "description") or \
            any(all(option.get(k) == v for k, v in shape.items() if k != "description")
                for option in prop.get("anyOf", []) if isinstance(option, dict))
        if matches and own and hint not in own:
            prop["description"] = f"{own.rstrip('.')} ({hint})."
            return


def scenario_json_schema() -> dict[str, Any]:
    """The document ``peakday schema`` prints."""
    document = Scenario.model_json_schema(by_alias=True, mode="validation",
                                          schema_generator=ScenarioJsonSchema)
    _describe(document)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "peakday scenario"
    return document
