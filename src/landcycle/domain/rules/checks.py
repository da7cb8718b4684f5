"""Every rule a single case can be checked against, by public name (`landcycle check RULE`)."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from . import (
    admission,
    classify,
    idle,
    low_efficiency,
    mu_average,
    new_industry_land,
    split_transfer,
    standard_land,
    workdays,
)
from .inputs import parse_case
from .rulebook import Rulebook
from .verdict import RuleCheck, Verdict

CHECKS: dict[str, RuleCheck] = {
    m.CHECK.name: m.CHECK
    for m in (mu_average, classify, idle, low_efficiency, standard_land, admission, new_industry_land,
              split_transfer, workdays)
}


def get_check(name: str) -> RuleCheck:
    """The rule called ``name`` (NotFound listing the valid names otherwise)."""
    try:
        return CHECKS[name]
    except KeyError:
        raise NotFound("规则", f"{name}（可用：{'、'.join(CHECKS)}）") from None


def run_check(name: str, data: Any, rulebook: Rulebook) -> Verdict:
    """Parse ``data`` as the rule's input (ValidationFailed naming fields) and apply the rule."""
    check = get_check(name)
    return check.run(parse_case(check.input_type, data, record=f"规则 {name} 的输入"), rulebook)
