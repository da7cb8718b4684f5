"""Attribute mapping for 标图入库 (issue 4): source columns → parcel fields, units → model units.

Pure: a mapping is parsed from TOML text (``data/import_mapping.toml`` holds the defaults; a
user file adds column names in front of them and may change default units), then applied to
the raw attribute rows of a :class:`~landcycle.domain.sources.SourceBatch`.

* Column names match case-insensitively, ignoring spaces and full/half-width brackets. A name
  may carry its unit: “面积(亩)”, “宗地面积（平方米）”, “价款_万元”, “面积亩”.
* A value may carry its unit too (“12.5亩”); otherwise the unit column (面积单位 / 价款单位),
  then the unit in the column name, then the field's ``default_unit`` decide.
* Areas become m² (平方米/亩/公顷), money 万元 (元/万元), land uses GB/T 21010 codes
  (“工业用地” → 0601), states/sources/supply methods their stored values.
* Columns no field accepts are returned in ``unmapped_columns`` — never silently dropped.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import Problem
from .sources import rows_to_columns
from .identifiers import normalise_credit_code
from .units import M2_PER_HECTARE, mu_to_m2, yuan_to_wan
from .vocabulary import LAND_USE_LABELS, InefficiencyCategory, LandSource, LandState, SupplyMethod

#: Mapping field → ParcelDraft attribute (fields not listed are not parcel attributes).
DRAFT_ATTRIBUTE = {
    "code": "code", "location": "location", "stated_area": "stated_area_m2", "county": "county",
    "zone": "zone", "land_use": "land_use", "land_source": "land_source", "state": "state",
    "supply_method": "supply_method", "supply_date": "supply_date", "term_years": "term_years",
    "price": "price_wan", "plot_ratio_min": "plot_ratio_min", "plot_ratio_max": "plot_ratio_max",
    "inefficiency_categories": "inefficiency_categories",
}
_ENUMS = {"land_source": LandSource, "state": LandState, "supply_method": SupplyMethod}
_UNIT_FIELD = {"area": "area_unit", "money": "price_unit"}
_NUMBER_RE = re.compile(r"^\s*([-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
_DATE_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_SEPARATORS = "_-()[]"
#: Between several 低效类别 in one cell: 、，,；; / and spaces (as the ledgers write them).
_LIST_SPLIT = re.compile(r"[、，,；;/\s]+")


@dataclass
class FieldSpec:
    name: str
    label: str
    columns: list[str]
    kind: str = "text"  # text / area / money / int / float / date / land_use / enums / categories / credit_code
    default_unit: str | None = None


@dataclass
class ImportMapping:
    fields: dict[str, FieldSpec]
    #: unit kind ("area"/"money") → alias (normalised) → canonical unit.
    units: dict[str, dict[str, str]]

    def unit_of(self, kind: str, text: str) -> str | None:
        return self.units.get(kind, {}).get(_norm(text))


@dataclass
class MappedRow:
    source_id: str
    #: ParcelDraft keyword values found in the row (no geometry).
    values: dict[str, Any] = field(default_factory=dict)
    owner_name: str | None = None
    owner_credit_code: str | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class MappingResult:
    rows: list[MappedRow]
    #: source column → mapping field.
    column_map: dict[str, str]
    unmapped_columns: list[str]
    #: What the mapping inferred (units from column names, ignored duplicate columns), Chinese.
    notes: list[str]


def _norm(name: str) -> str:
    s = str(name).strip().casefold().replace(" ", "").replace("\u3000", "")
    return s.translate(str.maketrans("（）【】［］", "()[][]"))


# --------------------------------------------------------------------------- parsing
_FIELD_KEYS = {"columns": list, "label": str, "kind": str, "default_unit": str}


def _check_shape(data: dict) -> None:
    """Refuse a mapping file whose tables or values have the wrong shape, naming the key (a
    string where a list of column names belongs would otherwise be read letter by letter)."""
    fields, units = data.get("fields", {}), data.get("units", {})
    if not isinstance(fields, dict):
        raise ValueError("映射文件中的 fields 应为表（[fields.字段名]），实际为" + type(fields).__name__)
    for name, spec in fields.items():
        if not isinstance(spec, dict):
            raise ValueError(f"映射文件中的 fields.{name} 应为表（columns = [...] 等），实际为 {spec!r}")
        for key, value in spec.items():
            want = _FIELD_KEYS.get(key)
            if want is None:
                raise ValueError(f"映射文件中的 fields.{name}.{key} 不是可用的设置（可用：{'、'.join(_FIELD_KEYS)}）")
            if not isinstance(value, want) or (want is list and not all(isinstance(c, str) for c in value)):
                raise ValueError(f"映射文件中的 fields.{name}.{key} 应为"
                                 + ("列名的列表，如 [\"宗地代码\", \"ZDDM\"]" if want is list else "文字")
                                 + f"，实际为 {value!r}")
    if not isinstance(units, dict):
        raise ValueError("映射文件中的 units 应为表（[units.面积] 等），实际为" + type(units).__name__)
    for kind, aliases in units.items():
        if not isinstance(aliases, dict) or not all(isinstance(u, str) for u in aliases.values()):
            raise ValueError(f"映射文件中的 units.{kind} 应为“写法 = 单位”的表，实际为 {aliases!r}")


def parse_mapping(text: str, base: ImportMapping | None = None) -> ImportMapping:
    """A mapping from TOML text; with ``base``, the text overrides/extends it."""
    data = tomllib.loads(text)
    _check_shape(data)
    fields = {k: FieldSpec(v.name, v.label, list(v.columns), v.kind, v.default_unit)
              for k, v in (base.fields.items() if base else [])}
    for name, spec in (data.get("fields") or {}).items():
        cols = [str(c) for c in spec.get("columns", [])]
        if name in fields:
            f = fields[name]
            f.columns = cols + [c for c in f.columns if c not in cols]
            f.label = spec.get("label", f.label)
            f.kind = spec.get("kind", f.kind)
            f.default_unit = spec.get("default_unit", f.default_unit)
        else:
            if name not in DRAFT_ATTRIBUTE and name not in ("area_unit", "price_unit", "owner_name",
                                                            "owner_credit_code"):
                raise ValueError(f"映射文件中的字段“{name}”不是可导入的宗地字段")
            fields[name] = FieldSpec(name, spec.get("label", name), cols, spec.get("kind", "text"),
                                     spec.get("default_unit"))
    units = {k: dict(v) for k, v in (base.units.items() if base else [])}
    for kind, aliases in (data.get("units") or {}).items():
        units.setdefault(kind, {}).update({_norm(a): u for a, u in aliases.items()})
    return ImportMapping(fields, units)


def default_mapping() -> ImportMapping:
    text = resources.files("landcycle.data").joinpath("import_mapping.toml").read_text(encoding="utf-8")
    return parse_mapping(text)


def load_mapping(path: str | Path | None = None) -> ImportMapping:
    """The default mapping, overridden by the user's TOML file when ``path`` is given."""
    base = default_mapping()
    if path is None:
        return base
    try:
        return parse_mapping(Path(path).read_text(encoding="utf-8"), base)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"无法读取映射文件 {path}：{exc}") from exc


# --------------------------------------------------------------------------- columns
def resolve_columns(mapping: ImportMapping, columns: list[str]) -> tuple[dict[str, tuple[str, str | None]],
                                                                         list[str], list[str]]:
    """Source column → (field, unit named in the column or None); unmapped columns; notes."""
    lookup: dict[str, str] = {}
    for f in mapping.fields.values():
        for c in f.columns:
            lookup.setdefault(_norm(c), f.name)
    aliases = sorted(((a, kind, u) for kind, d in mapping.units.items() for a, u in d.items()),
                     key=lambda t: -len(t[0]))
    found: dict[str, tuple[str, str | None]] = {}
    taken: dict[str, str] = {}
    unmapped, notes = [], []
    for col in columns:
        n = _norm(col)
        target, unit = lookup.get(n), None
        if target is None:
            for alias, kind, canonical in aliases:
                if n.endswith(alias) and len(n) > len(alias):
                    stem = re.sub(r"[(\[]$", "", n[: -len(alias)]).rstrip(_SEPARATORS)
                    cand = lookup.get(stem)
                    if cand and mapping.fields[cand].kind == kind:
                        target, unit = cand, canonical
                        break
            if target is None and n.endswith(")"):
                m = re.match(r"^(.*?)\((.+)\)$", n)
                if m and lookup.get(m.group(1)):
                    cand = lookup[m.group(1)]
                    kind = mapping.fields[cand].kind
                    canonical = mapping.unit_of(kind, m.group(2))
                    if canonical:
                        target, unit = cand, canonical
        if target is None:
            unmapped.append(col)
            continue
        if target in taken:
            notes.append(f"字段“{col}”与“{taken[target]}”都对应{mapping.fields[target].label}，已采用“{taken[target]}”")
            unmapped.append(col)
            continue
        taken[target] = col
        found[col] = (target, unit)
        if unit:
            notes.append(f"字段“{col}”按单位“{unit}”换算")
    return found, unmapped, notes


# --------------------------------------------------------------------------- values
def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _number(v) -> tuple[float, str]:
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, (int, float)):
        return float(v), ""
    m = _NUMBER_RE.match(str(v))
    if not m:
        raise ValueError
    return float(m.group(1).replace(",", "")), m.group(2)


def _to_date(v) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = str(v).strip()
    m = _DATE_RE.match(s)
    if m:
        return date(*(int(g) for g in m.groups()))
    if re.fullmatch(r"\d{8}", s):
        return date(int(s[:4]), int(s[4:6]), int(s[6:]))
    raise ValueError


def _convert_measure(kind: str, value: float, unit: str) -> float:
    if kind == "area":
        return {"平方米": value, "亩": float(mu_to_m2(value)), "公顷": value * M2_PER_HECTARE}[unit]
    return {"元": float(yuan_to_wan(value)), "万元": value}[unit]


def land_use_code(value) -> str:
    """'工业用地' / '0601' / '0601 工业用地' → '0601'; ValueError (Chinese) otherwise."""
    s = str(value).strip()
    m = re.match(r"^(\d{4})(?:\D.*)?$", s)
    if m:
        return m.group(1)
    by_name = {name: code for code, name in LAND_USE_LABELS.items()}
    if s in by_name:
        return by_name[s]
    allowed = "、".join(f"{n}({c})" for c, n in LAND_USE_LABELS.items())
    raise ValueError(f"无法识别的土地用途“{s}”，应为GB/T 21010四位代码或：{allowed}")


_BLANK = object()  # an empty cell: no value, no problem


def _value_of(hit):
    """What a converted cell gives its row: the value, or _BLANK (empty or unconvertible)."""
    return _BLANK if hit is _BLANK or hit[1] is not None else hit[0]


def _keyed(raws: list, uraws: list | None) -> tuple[list, Any]:
    """Memo keys of a column's cells (with their unit cells) and how to get ``(raw, unit raw)``
    back from a key: the values themselves when the column holds one type, else with their
    types — 1, 1.0 and True hash alike but convert apart."""
    def one_type(values) -> bool:
        return len(set(map(type, values)) - {type(None)}) <= 1

    typed = not one_type(raws) or (uraws is not None and not one_type(uraws))
    if uraws is None:
        if typed:
            return [(type(r), r) for r in raws], lambda k: (k[1], None)
        return raws, lambda k: (k, None)
    if typed:
        return [(type(r), r, type(u), u) for r, u in zip(raws, uraws)], lambda k: (k[1], k[3])
    return list(zip(raws, uraws)), lambda k: k


def map_rows(mapping: ImportMapping, attributes: list[dict[str, Any]],
             source_ids: list[str], columns: dict[str, list[Any]] | None = None) -> MappingResult:
    """Apply the mapping to attribute rows; every unconvertible value is a Problem of its row.

    Column by column: blankness and conversion are decided once per distinct cell value (with
    its unit cell), then spread over the rows — a batch of 10⁵ rows repeats a few values.
    ``columns``: the same rows column by column (``SourceBatch.attribute_columns``), if at hand."""
    if columns is None:
        columns = rows_to_columns(attributes)
    found, unmapped, notes = resolve_columns(mapping, list(columns))
    by_field = {f: (col, unit) for col, (f, unit) in found.items()}
    rows = [MappedRow(sid) for sid in source_ids[:len(attributes)]]
    values: dict[str, list] = {}  # draft attribute → each row's value (or _BLANK)
    # Fields in mapping order, so each row's problems keep that order.
    for fname, (col, col_unit) in by_field.items():
        if fname in ("area_unit", "price_unit"):
            continue
        spec = mapping.fields[fname]
        attr = DRAFT_ATTRIBUTE.get(fname, fname)
        ucol = None
        if spec.kind in ("area", "money") and _UNIT_FIELD[spec.kind] in by_field:
            ucol = by_field[_UNIT_FIELD[spec.kind]][0]
        raws = columns[col]
        uraws = columns[ucol] if ucol is not None else None

        def convert(raw, uraw):
            return _BLANK if _blank(raw) else _convert(mapping, spec, fname, col, col_unit, ucol, raw, uraw)

        try:
            keys, cells = _keyed(raws, uraws)
            memo = {k: convert(*cells(k)) for k in dict.fromkeys(keys)}  # each distinct cell once
            value_of = {k: _value_of(h) for k, h in memo.items()}
            col_values = list(map(value_of.__getitem__, keys))
            hits = None
            if any(h is not _BLANK and h[1] is not None for h in memo.values()):
                hits = list(map(memo.__getitem__, keys))
        except TypeError:  # an unhashable cell value: convert every cell
            hits = [convert(r, u) for r, u in zip(raws, uraws or [None] * len(raws))]
            col_values = [_value_of(h) for h in hits]
        if hits is not None:  # some cells could not be converted: a problem of each such row
            for out, hit in zip(rows, hits):
                if hit is not _BLANK and hit[1] is not None:
                    message, code = hit[1]
                    out.problems.append(Problem(out.source_id, attr, f"{spec.label}（{col}）：{message}", code))
        if fname == "owner_name":
            for out, v in zip(rows, col_values):
                if v is not _BLANK:
                    out.owner_name = v
        elif fname == "owner_credit_code":
            for out, v, raw in zip(rows, col_values, raws):
                if v is not _BLANK:
                    out.owner_credit_code = v
                elif not _blank(raw):  # the raw text is kept when it is not a valid code
                    out.owner_credit_code = str(raw).strip()
        else:
            values[attr] = col_values
    names = list(values)
    for out, row in zip(rows, zip(*values.values())):
        out.values = {a: v for a, v in zip(names, row) if v is not _BLANK}
    column_map = {col: f for col, (f, _u) in found.items()}
    return MappingResult(rows, column_map, unmapped, notes)


def _convert(mapping: ImportMapping, spec: FieldSpec, fname: str, col: str, col_unit: str | None,
             ucol: str | None, raw, uraw) -> tuple[Any, tuple[str, str] | None]:
    """One value converted: ``(value, None)`` or ``(None, (message, problem code))``."""
    try:
        if spec.kind in ("area", "money"):
            value, value_unit = _number(raw)
            unit = None
            if value_unit:
                unit = mapping.unit_of(spec.kind, value_unit)
                if unit is None:
                    return None, (f"无法识别的单位“{value_unit}”", "unknown_unit")
            if unit is None and ucol is not None and not _blank(uraw):
                unit = mapping.unit_of(spec.kind, str(uraw))
                if unit is None:
                    return None, (f"无法识别的单位“{uraw}”（{ucol}）", "unknown_unit")
            unit = unit or col_unit or spec.default_unit
            return _convert_measure(spec.kind, value, unit), None
        if spec.kind == "int":
            value, rest = _number(raw)
            if rest or value != int(value):
                raise ValueError
            return int(value), None
        if spec.kind == "float":
            value, rest = _number(raw)
            if rest:
                raise ValueError
            return value, None
        if spec.kind == "date":
            return _to_date(raw), None
        if spec.kind == "land_use":
            return land_use_code(raw), None
        if fname in _ENUMS:
            return _ENUMS[fname].parse(str(raw).strip()).value, None
        if spec.kind == "categories":
            # several 低效类别 in one cell ("停建缓建类、开发未达标类"); each a label or stored value
            parts = [t for t in _LIST_SPLIT.split(str(raw).strip()) if t]
            return list(dict.fromkeys(InefficiencyCategory.parse(t).value for t in parts)), None
        if fname == "owner_name":
            return str(raw).strip(), None
        if fname == "owner_credit_code":
            try:
                return normalise_credit_code(str(raw)), None
            except ValueError as exc:
                return None, (str(exc), "bad_credit_code")
        value = str(raw).strip()
        if fname == "code":
            value = value.upper()
        return value, None
    except ValueError as exc:
        return None, (str(exc) if str(exc) else f"无法转换“{raw}”", "unconvertible")
    except (KeyError, OverflowError):
        return None, (f"无法转换“{raw}”", "unconvertible")
