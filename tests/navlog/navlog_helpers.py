"""Hand-written scope logs shared by the navlog tests."""

from __future__ import annotations

import json
from pathlib import Path

HEADER = {"type": "header", "format": "ductree-navlog", "version": 1, "laterality": "R", "orifice_clock": "6:00"}

# The session worked by hand in test_navlog_topology.py (line numbers: header = line 1).
#  line 2-3   advance in the main duct
#  line 4     bifurcation at 10 mm: lumens at 3 and 9 o'clock
#  line 5     enter lumen 0 (3 o'clock)
#  line 7     end (terminal) at 20 mm
#  line 10    withdrawn to 6 mm: back in the main duct (6 < 10 - 3)
#  line 11    enter lumen 1 (9 o'clock) at 10 mm
#  line 12    finding P1 at 14 mm
#  line 13    bifurcation at 18 mm: lumens at 12 and 6
#  line 14    enter lumen 0 (12 o'clock)
#  line 15    end (too_narrow) at 25 mm; lumen 1 (6 o'clock) is never entered: a stub
#  line 16    retrieval of P1; line 17 withdrawn to 0
HAND = [
    HEADER,
    {"t": 0, "depth_mm": 0},
    {"t": 1, "depth_mm": 5},
    {"t": 2, "depth_mm": 10, "event": "bifurcation", "lumens": [3, 9]},
    {"t": 3, "depth_mm": 10, "event": "enter", "lumen": 0},
    {"t": 4, "depth_mm": 15},
    {"t": 5, "depth_mm": 20, "event": "end", "reason": "terminal"},
    {"t": 6, "depth_mm": 15},
    {"t": 7, "depth_mm": 10},
    {"t": 8, "depth_mm": 6},
    {"t": 9, "depth_mm": 10, "event": "enter", "lumen": 1},
    {"t": 10, "depth_mm": 14, "event": "finding", "label": "P1", "kind": "papilloma", "size_mm": 3, "clock": "7:30"},
    {"t": 11, "depth_mm": 18, "event": "bifurcation", "lumens": ["12:00", 6]},
    {"t": 12, "depth_mm": 18, "event": "enter", "lumen": 0},
    {"t": 13, "depth_mm": 25, "event": "end", "reason": "too_narrow"},
    {"t": 14, "depth_mm": 25, "event": "retrieval", "label": "P1", "method": "basket"},
    {"t": 15, "depth_mm": 0},
]


def jsonl(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_jsonl(path: Path, records) -> Path:
    path.write_text(jsonl(records))
    return path
