"""The API definition as OpenAPI 3.0, for clients that read no 3.1 (OGC API – Features "oas30").

FastAPI writes OpenAPI 3.1.0, whose schemas are JSON Schema 2020-12. OGC API – Features
Part 1's ``oas30`` conformance class, the OGC test suite and older GIS clients expect 3.0.
The two differ in a handful of schema keywords, rewritten here (nothing else changes):

* ``type: [T, "null"]`` and ``anyOf/oneOf: [S, {type: "null"}]`` → ``T``/``S`` with ``nullable: true``
* ``const: v`` → ``enum: [v]``
* ``examples: [...]`` inside a schema → ``example`` (the first)
* numeric ``exclusiveMinimum``/``exclusiveMaximum`` → ``minimum``/``maximum`` + boolean flag
* ``contentMediaType``/``contentEncoding`` (uploads) → ``format: binary``
* keywords 3.0 lacks (``propertyNames``, ``prefixItems``, ``$schema`` …) are dropped: a 3.0
  client validates a little less than the server does, never more

The result is checked with ``openapi-spec-validator`` (tests/test_ogc.py).
"""

from __future__ import annotations

import copy
from typing import Any

#: Keys whose value is a map of names → schemas.
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
#: Keys whose value is one schema.
_SCHEMA_KEYS = ("items", "additionalProperties", "not")
#: Keys whose value is a list of schemas.
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_DROPPED = ("$schema", "$id", "prefixItems", "unevaluatedProperties", "contentEncoding", "$comment",
            "propertyNames", "contains", "minContains", "maxContains", "dependentRequired",
            "dependentSchemas", "if", "then", "else")


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def schema_30(schema: Any) -> Any:
    """One JSON Schema 2020-12 object rewritten as an OpenAPI 3.0 Schema Object (a new object)."""
    if not isinstance(schema, dict):
        return schema
    s = {k: v for k, v in schema.items() if k not in _DROPPED}
    types = s.get("type")
    if isinstance(types, list):
        rest = [t for t in types if t != "null"]
        if len(rest) < len(types):
            s["nullable"] = True
        if len(rest) == 1:
            s["type"] = rest[0]
        else:
            s.pop("type")
            s["anyOf"] = [{"type": t} for t in rest]
    for key in ("anyOf", "oneOf"):
        if key in s:
            options = [o for o in s[key] if not _is_null(o)]
            if len(options) < len(s[key]):
                s["nullable"] = True
                if len(options) == 1 and set(s) <= {key, "nullable", "title", "description", "default"}:
                    only = options[0]
                    s.pop(key)
                    # A $ref cannot carry siblings in 3.0: wrap it.
                    s.update({"allOf": [only]} if "$ref" in only else only)
                else:
                    s[key] = options
    if "const" in s:
        s["enum"] = [s.pop("const")]
    if "examples" in s and isinstance(s["examples"], list):
        examples = s.pop("examples")
        if examples:
            s["example"] = examples[0]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(s.get(bound), (int, float)) and not isinstance(s.get(bound), bool):
            s[flag] = s.pop(bound)
            s[bound] = True
    if "contentMediaType" in s:
        s.pop("contentMediaType")
        s.setdefault("type", "string")
        s["format"] = "binary"
    if "$ref" in s and len(s) > 1:
        ref = s.pop("$ref")
        s = {"allOf": [{"$ref": ref}], **s}
    for key in _SCHEMA_MAPS:
        if isinstance(s.get(key), dict):
            s[key] = {name: schema_30(sub) for name, sub in s[key].items()}
    for key in _SCHEMA_KEYS:
        if isinstance(s.get(key), dict):
            s[key] = schema_30(s[key])
    for key in _SCHEMA_LISTS:
        if isinstance(s.get(key), list):
            s[key] = [schema_30(sub) for sub in s[key]]
    return s


def _media(content: dict[str, Any]) -> None:
    for media in content.values():
        if isinstance(media, dict) and "schema" in media:
            media["schema"] = schema_30(media["schema"])


def downgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI 3.1 document as OpenAPI 3.0.3."""
    out = copy.deepcopy(doc)
    out["openapi"] = "3.0.3"
    out.pop("webhooks", None)
    out.pop("jsonSchemaDialect", None)
    info = out.get("info", {})
    info.pop("summary", None)
    if isinstance(info.get("license"), dict):
        info["license"].pop("identifier", None)
    components = out.get("components", {})
    components["schemas"] = {k: schema_30(v) for k, v in components.get("schemas", {}).items()}
    for kind in ("parameters", "headers"):
        for p in components.get(kind, {}).values():
            if "schema" in p:
                p["schema"] = schema_30(p["schema"])
    for item in out.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            for p in op.get("parameters", []):
                if "schema" in p:
                    p["schema"] = schema_30(p["schema"])
                if "examples" in p and isinstance(p["examples"], list):
                    p["example"] = p.pop("examples")[0]
            if "requestBody" in op:
                _media(op["requestBody"].get("content", {}))
            for resp in op.get("responses", {}).values():
                _media(resp.get("content", {}))
                for h in resp.get("headers", {}).values():
                    if "schema" in h:
                        h["schema"] = schema_30(h["schema"])
    return out
