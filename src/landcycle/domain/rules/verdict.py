"""What a rule returns: an outcome an official can read, question and trace to its clause."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The seed files, by the short number DOMAIN.md cites them with.
SEED_FILES = {
    "000": "000_d1616d0f159e6d21.txt",
    "001": "001_e347295c81bc02be.txt",
    "003": "003_cab18df132903212.txt",
}


@dataclass(frozen=True)
class Citation:
    """The clause a verdict rests on: a seed line range, or a national rule."""

    source: str  # e.g. "000:1056-1058" or "闲置土地处置办法（国土资源部令第53号，2012）第二条"
    text: str  # the clause in brief, Chinese

    def to_dict(self) -> dict[str, str]:
        out = {"source": self.source, "text": self.text}
        seed = self.source.split(":", 1)[0]
        if seed in SEED_FILES:
            out["file"] = f"shared/seeds/{SEED_FILES[seed]}"
        return out


@dataclass(frozen=True)
class Verdict:
    """One rule applied to one case."""

    rule: str  # public rule name, e.g. "idle"
    rule_id: str  # DOMAIN.md id, e.g. "R3"
    outcome: str  # machine value, e.g. "reclaim"
    outcome_label: str  # Chinese, e.g. "无偿收回"
    figures: dict[str, Any] = field(default_factory=dict)  # inputs used and values computed
    reasons: list[str] = field(default_factory=list)  # Chinese, one sentence each
    citations: list[Citation] = field(default_factory=list)
    rulebook_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `landcycle check` and `POST /api/check/{rule}`."""
        return {
            "rule": self.rule,
            "rule_id": self.rule_id,
            "outcome": self.outcome,
            "outcome_label": self.outcome_label,
            "figures": self.figures,
            "reasons": list(self.reasons),
            "citation": [c.to_dict() for c in self.citations],
            "rulebook_version": self.rulebook_version,
        }


@dataclass(frozen=True)
class RuleCheck:
    """A rule as the check command and API expose it (see ``checks.CHECKS``)."""

    name: str  # public name, e.g. "split-transfer"
    rule_id: str  # DOMAIN.md id, e.g. "R8"
    title: str  # Chinese title
    input_type: type  # dataclass built with inputs.spec fields
    run: Any  # (case, rulebook) -> Verdict
    outcomes: dict[str, str]  # every outcome value → Chinese label
    example: dict[str, Any]  # a worked example input (JSON object) for docs/rules.md
    notes: str = ""  # extra explanation for docs/rules.md (Chinese or English)
