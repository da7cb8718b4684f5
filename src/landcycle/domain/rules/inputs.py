"""Case inputs: dataclasses whose fields carry a Chinese description and a unit.

``parse_case`` turns a JSON object into such a dataclass, or raises ``ValidationFailed``
naming every bad field — the same messages for the CLI, the API and the docs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date
from typing import Any

from ..errors import Problem, ValidationFailed


def spec(description: str, unit: str = "", default: Any = dataclasses.MISSING, *,
         minimum: float | None = None, maximum: float | None = None, choices: tuple = ()) -> Any:
    """A dataclass field with its Chinese description, unit and allowed range."""
    meta = {"description": description, "unit": unit, "minimum": minimum, "maximum": maximum,
            "choices": choices}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _base_type(tp):
    """(type, optional) for ``X`` / ``X | None`` / ``Optional[X]``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _convert(name: str, tp, value, meta: dict) -> Any:
    base, optional = _base_type(tp)
    if value is None:
        if optional:
            return None
        raise ValueError("不能为空")
    origin = typing.get_origin(base)
    if origin is list:
        (item_tp,) = typing.get_args(base)
        if not isinstance(value, list):
            raise ValueError("应为数组（列表）")
        return [_convert(name, item_tp, v, meta) for v in value]
    if base is bool:
        if not isinstance(value, bool):
            raise ValueError("应为 true 或 false")
        return value
    if base in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("应为数值")
        if base is int and int(value) != value:
            raise ValueError("应为整数")
        value = base(value)
        if value != value:
            raise ValueError("不能为 NaN")
        lo, hi = meta.get("minimum"), meta.get("maximum")
        if lo is not None and value < lo:
            raise ValueError(f"不能小于 {lo}")
        if hi is not None and value > hi:
            raise ValueError(f"不能大于 {hi}")
        return value
    if base is date:
        if not isinstance(value, str):
            raise ValueError("应为 ISO 日期字符串，如 2021-06-30")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"“{value}”不是 ISO 日期（YYYY-MM-DD）") from None
    if base is str:
        if not isinstance(value, str):
            raise ValueError("应为字符串")
        choices = meta.get("choices") or ()
        if choices and value not in choices:
            raise ValueError(f"“{value}”无效，应为：{'、'.join(choices)}")
        return value
    if base is dict or typing.get_origin(base) is dict:
        if not isinstance(value, dict):
            raise ValueError("应为对象")
        return value
    raise TypeError(f"unsupported input type {base!r} for {name}")  # programming error


def parse_case(cls, data: Any, record: str = "输入"):
    """Build input dataclass ``cls`` from a JSON object, naming every bad field (Chinese)."""
    if not isinstance(data, dict):
        raise ValidationFailed(Problem(record, "(整体)", "输入应为 JSON 对象"))
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems, values = [], {}
    for name in data:
        if name not in fields:
            problems.append(Problem(record, name, f"未知字段（可用字段：{'、'.join(fields)}）", "unknown_field"))
    for name, f in fields.items():
        if name not in data:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required:
                problems.append(Problem(record, name, f"缺少必填字段：{f.metadata.get('description', name)}",
                                        "missing"))
            continue
        try:
            values[name] = _convert(name, hints[name], data[name], dict(f.metadata))
        except ValueError as exc:
            desc = f.metadata.get("description", name)
            problems.append(Problem(record, name, f"{desc}：{exc}"))
    if problems:
        raise ValidationFailed(problems)
    return cls(**values)


def describe_fields(cls) -> list[dict[str, Any]]:
    """Name, type, unit, description and whether required, for the docs."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        base, optional = _base_type(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append({"name": f.name, "type": getattr(base, "__name__", str(base)),
                    "unit": f.metadata.get("unit", ""), "description": f.metadata.get("description", ""),
                    "required": required, "choices": list(f.metadata.get("choices") or ())})
    return out
