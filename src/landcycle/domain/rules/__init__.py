"""The rules of DOMAIN.md §5 (R1–R10) as pure functions: plain data in, verdicts out.

Every rule reads its thresholds from a :class:`~.rulebook.Rulebook` section and returns a
:class:`~.verdict.Verdict` naming the rule, the outcome, the figures used and computed,
the reasons in Chinese and the clause it rests on. ``CHECKS`` (in ``checks.py``) maps the
public rule names (``idle``, ``split-transfer`` …) to their input type and function.
"""
