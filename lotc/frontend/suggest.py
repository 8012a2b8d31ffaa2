"""Did-you-mean: close names of the right kind, at most three, ties by name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Candidates close to ``name``, closest first, ties broken by name."""
    scored = []
    lowered = name.lower()
    for candidate in set(candidates):
        if candidate == name:
            continue
        ratio = difflib.SequenceMatcher(None, lowered, candidate.lower()).ratio()
        if ratio >= 0.6 or candidate.lower() == lowered:
            scored.append((-ratio, candidate))
    return [candidate for _, candidate in sorted(scored)[:limit]]


def did_you_mean(name: str, candidates: Iterable[str], quote: str = "`") -> str | None:
    """A help line such as "did you mean `flow`?", or None when nothing is close."""
    names = close_names(name, candidates)
    if not names:
        return None
    listed = [f"{quote}{n}{quote}" for n in names]
    if len(listed) == 1:
        return f"did you mean {listed[0]}?"
    return "did you mean " + ", ".join(listed[:-1]) + " or " + listed[-1] + "?"
