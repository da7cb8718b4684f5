"""The rulebook in use and single-case rule checks."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ..data import DATA_DIR
from ..domain.errors import NotFound, Problem, ValidationFailed
from ..domain.rules.checks import CHECKS, run_check
from ..domain.rules.rulebook import Rulebook

#: The city rulebook shipped with the package; ``LANDCYCLE_RULEBOOK`` points elsewhere.
DEFAULT_RULEBOOK = DATA_DIR / "rulebook.toml"


def rulebook_path() -> Path:
    return Path(os.environ.get("LANDCYCLE_RULEBOOK") or DEFAULT_RULEBOOK)


def overrides_dir() -> Path | None:
    """Folder of county/zone overrides (``<jurisdiction code>.toml``), from ``LANDCYCLE_RULEBOOK_OVERRIDES``."""
    value = os.environ.get("LANDCYCLE_RULEBOOK_OVERRIDES")
    return Path(value) if value else None


def load_rulebook(jurisdictions: list[str] | tuple[str, ...] = ()) -> Rulebook:
    """The city rulebook with the overrides of the given jurisdictions applied in order
    (e.g. county, then zone). An override that loosens a floor is refused (ValidationFailed)."""
    path = rulebook_path()
    try:
        rulebook = Rulebook.from_toml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound("规则库文件", str(path)) from None
    folder = overrides_dir()
    for code in jurisdictions:
        file = folder / f"{code}.toml" if folder else None
        if file is None or not file.exists():
            continue
        try:
            override = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValidationFailed(Problem(f"{code} 的规则覆盖", "(文件)", f"TOML 格式错误：{exc}")) from None
        rulebook = rulebook.with_override(override, code)
    return rulebook


def check(rule: str, case: Any, jurisdictions: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Apply one rule to one case; the verdict as JSON-ready dict."""
    return run_check(rule, case, load_rulebook(jurisdictions)).to_dict()


def rule_names() -> list[str]:
    return list(CHECKS)
