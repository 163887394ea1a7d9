"""Writes arithmetic_mc.jsonl: 100 two-digit additions with four numeric options, a small
general-ability probe for the retention check (python examples/retention/make_arithmetic.py)."""

import json
import random
from pathlib import Path

rng = random.Random(0)
lines = []
for _ in range(100):
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    right = a + b
    options = [right, right + 1, right - 10, right + 10]
    rng.shuffle(options)
    lines.append(json.dumps({"question": f"What is {a} + {b}?", "choices": [str(o) for o in options], "answer": options.index(right)}))
Path(__file__).with_name("arithmetic_mc.jsonl").write_text("\n".join(lines) + "\n")
