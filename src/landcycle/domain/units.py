"""Units the ledgers and surveys use (DOMAIN.md §2).

Surveys speak m², ledgers speak 亩; money in ledgers and targets is 万元.
"""

from __future__ import annotations

#: 1 亩 = 10000/15 m² (exactly 666.666… m²).
M2_PER_MU = 10000.0 / 15.0
#: 1 公顷 = 10000 m² = 15 亩.
M2_PER_HECTARE = 10000.0
YUAN_PER_WAN = 10000.0


def m2_to_mu(m2):
    """Square metres → 亩 (works on floats and numpy arrays)."""
    return m2 / M2_PER_MU


def mu_to_m2(mu):
    """亩 → square metres."""
    return mu * M2_PER_MU


def hectare_to_mu(ha):
    """公顷 → 亩."""
    return ha * M2_PER_HECTARE / M2_PER_MU


def yuan_to_wan(yuan):
    """元 → 万元."""
    return yuan / YUAN_PER_WAN


def wan_to_yuan(wan):
    """万元 → 元."""
    return wan * YUAN_PER_WAN
