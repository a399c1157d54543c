"""Countersign policies (会签 / 或签 / 比例 / 一票否决) for multi-instance user tasks.

SpiffWorkflow's completionCondition sees only the data of the child that just finished,
so the host puts the running tally into that child before it runs (`countersign` in its
data) and the diagram's completionCondition reads `countersign["decided"]`. After the
multi-instance task, `countersign_result(votes, policy, total)` gives the outcome from the
collected votes with the same rule.
"""

from __future__ import annotations

import math
from fractions import Fraction

POLICIES = ("all", "any", "veto", "ratio")


class InvalidPolicy(ValueError):
    pass


def parse_policy(policy: str) -> tuple[str, Fraction | None]:
    """'all' | 'any' | 'veto' | 'ratio:2/3' (or 'ratio:0.67')."""
    name, _, arg = (policy or "all").strip().partition(":")
    if name not in POLICIES:
        raise InvalidPolicy(f"未知的会签规则: {policy} (all / any / veto / ratio:2/3)")
    if name != "ratio":
        return name, None
    try:
        ratio = Fraction(arg)
    except (ValueError, ZeroDivisionError):
        raise InvalidPolicy(f"会签比例无效: {policy}") from None
    if not 0 < ratio <= 1:
        raise InvalidPolicy(f"会签比例须在 0 与 1 之间: {policy}")
    return name, ratio


def decide(policy: str, *, approved: int, rejected: int, total: int) -> str | None:
    """'approved', 'rejected', or None while the votes cast cannot decide yet."""
    name, ratio = parse_policy(policy)
    voted = approved + rejected
    if name == "any":  # 或签: the first decision is everyone's
        if voted == 0:
            return None
        return "approved" if approved else "rejected"
    if name == "veto":  # 一票否决: one rejection ends it at once
        if rejected:
            return "rejected"
        return "approved" if approved >= total else None
    if name == "all":  # 会签: every opinion is collected, all must approve
        if voted < total:
            return None
        return "approved" if rejected == 0 else "rejected"
    needed = math.ceil(ratio * total)
    if approved >= needed:
        return "approved"
    if approved + (total - voted) < needed:
        return "rejected"  # even if everyone left approves, the ratio is out of reach
    return None


def tally(policy: str, *, approved: int, rejected: int, total: int) -> dict:
    result = decide(policy, approved=approved, rejected=rejected, total=total)
    return {
        "policy": policy,
        "approved": approved,
        "rejected": rejected,
        "total": total,
        "decided": result is not None,
        "result": result,
    }


def countersign_result(votes, policy: str, total: int) -> str:
    """Outcome from the collected votes (dicts with a boolean `approved`) after the step ended."""
    votes = [v for v in (votes or []) if isinstance(v, dict) and "approved" in v]
    approved = sum(1 for v in votes if v["approved"])
    rejected = len(votes) - approved
    outcome = decide(policy, approved=approved, rejected=rejected, total=total)
    # Ended with votes missing (withdrawn signers): judge what was cast.
    return (
        outcome
        or decide(policy, approved=approved, rejected=rejected, total=approved + rejected)
        or "rejected"
    )
