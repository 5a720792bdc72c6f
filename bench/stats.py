"""Percentiles for the bench reports."""

from __future__ import annotations


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value at `fraction` (0..1) of an already sorted list, nearest rank; NaN if empty."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]
