"""The rulebook: every threshold the rules use, versioned, overridable only to tighten.

Pure: parses TOML text and override dictionaries; reading files is the services' job.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationFailed

META_SECTION = "rulebook"
#: Sections a county or zone may override (tighten only): the 标准地 floors (000:962).
OVERRIDABLE_SECTIONS = frozenset({"standard_land"})


@dataclass(frozen=True)
class Rulebook:
    """A parsed rulebook. ``data`` maps section names to their settings."""

    version: str
    jurisdiction: str
    name: str
    data: dict[str, Any]
    #: Jurisdiction codes of the overrides applied on top of the city rulebook, in order.
    overrides: tuple[str, ...] = ()

    @classmethod
    def from_toml(cls, text: str) -> "Rulebook":
        """Parse a rulebook; raise ``ValidationFailed`` (Chinese) if it is malformed."""
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValidationFailed(Problem("规则库", "(文件)", f"TOML 格式错误：{exc}")) from None
        meta = raw.pop(META_SECTION, None)
        if not isinstance(meta, dict) or not meta.get("version"):
            raise ValidationFailed(Problem("规则库", "rulebook.version", "缺少规则库版本号"))
        return cls(version=str(meta["version"]), jurisdiction=str(meta.get("jurisdiction", "")),
                   name=str(meta.get("name", "")), data=raw)

    def section(self, name: str) -> dict[str, Any]:
        """One section's settings (a copy is not made: treat as read-only)."""
        try:
            return self.data[name]
        except KeyError:
            raise ValidationFailed(Problem("规则库", name, "规则库缺少该节")) from None

    @property
    def label(self) -> str:
        """Version plus the overrides applied, e.g. ``2021.1+411002``."""
        return "+".join((self.version, *self.overrides))

    def fingerprint(self) -> str:
        """SHA-256 of the settings in canonical JSON: equal settings, equal fingerprint."""
        canonical = json.dumps({"version": self.version, "overrides": self.overrides, "data": self.data},
                               sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def with_override(self, override: dict[str, Any], jurisdiction: str) -> "Rulebook":
        """A county's or zone's override applied on top, or ``ValidationFailed`` naming each
        key that would loosen a floor/ceiling or that may not be overridden at all (000:962)."""
        problems: list[Problem] = []
        merged = copy.deepcopy(self.data)
        record = f"{jurisdiction} 的规则覆盖"
        for section in override:
            if section not in OVERRIDABLE_SECTIONS:
                problems.append(Problem(record, section, "该节为市级统一或国家规则，县区和集聚区不能覆盖",
                                        "not_overridable"))
        allowed = {k: v for k, v in override.items() if k in OVERRIDABLE_SECTIONS}
        _merge_tightening(merged, allowed, (), problems, record)
        if problems:
            raise ValidationFailed(problems)
        return Rulebook(self.version, self.jurisdiction, self.name, merged, (*self.overrides, jurisdiction))


def _merge_tightening(base: dict, override: dict, path: tuple[str, ...], problems: list[Problem],
                      record: str, inherited: str = "") -> None:
    """Merge ``override`` into ``base`` in place, refusing anything that is not a tightening.

    A key ending in ``_min``/``_max`` is a floor/ceiling; so is every key of a table whose name
    ends so (e.g. ``industry_plot_ratio_min.C34``)."""
    for key, new in override.items():
        where = ".".join((*path, key))
        if key not in base:
            problems.append(Problem(record, where, "城市规则库中没有该项，不能新增", "unknown_setting"))
            continue
        old = base[key]
        if isinstance(old, dict):
            if not isinstance(new, dict):
                problems.append(Problem(record, where, "应为一节（表）"))
            else:
                direction = "_min" if key.endswith("_min") else "_max" if key.endswith("_max") else inherited
                _merge_tightening(old, new, (*path, key), problems, record, direction)
            continue
        is_floor = key.endswith("_min") or inherited == "_min"
        is_ceiling = key.endswith("_max") or inherited == "_max"
        if not (is_floor or is_ceiling):
            problems.append(Problem(record, where, "只能收紧下限（_min）或上限（_max）指标，该项不能由县区或集聚区修改",
                                    "not_overridable"))
            continue
        if isinstance(new, bool) or not isinstance(new, (int, float)):
            problems.append(Problem(record, where, "应为数值"))
            continue
        if is_floor and new < old:
            problems.append(Problem(record, where, f"下限只能提高：市级标准为 {old}，覆盖值 {new} 低于市级标准",
                                    "loosens_floor"))
        elif is_ceiling and new > old:
            problems.append(Problem(record, where, f"上限只能降低：市级标准为 {old}，覆盖值 {new} 高于市级标准",
                                    "loosens_ceiling"))
        else:
            base[key] = new
