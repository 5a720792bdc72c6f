"""
`python bench/profile_summary.py PROFILE.raw [N]`: shares of a py-spy raw profile
(`bench/fanout.py --profile PROFILE.raw`), by function, self and inclusive, without the idle
database threads.
"""

from __future__ import annotations

import sys
from collections import Counter


def key(frame: str) -> str:
    name = frame.split(" (")[0]
    module = frame.split("(")[-1].split(":")[0].split("/")[-1] if "(" in frame else ""
    return f"{name} [{module}]"


def main(path: str, count: int) -> None:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    with open(path) as profile:
        for line in profile:
            stack, _, samples = line.rstrip().rpartition(" ")
            if not samples.isdigit():
                continue
            frames = stack.split(";")
            if "_worker" in frames[-1] and "thread.py" in frames[-1]:
                continue  # an idle thread of the pool
            number = int(samples)
            total += number
            own[key(frames[-1])] += number
            for name in {key(frame) for frame in frames}:
                inclusive[name] += number
    print(f"samples: {total}")
    print("self:")
    for name, number in own.most_common(count):
        print(f"  {100 * number / total:5.1f}%  {name[:140]}")
    print("inclusive:")
    for name, number in inclusive.most_common(count * 2):
        print(f"  {100 * number / total:5.1f}%  {name[:140]}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25)
