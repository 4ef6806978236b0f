"""ductree benchmarks: speed and accuracy beside peer libraries, as ratios.

Run every benchmark: ``python -m benchmarks`` (``--quick`` for a smaller,
faster pass; ``--only NAME`` to run modules whose name contains NAME).
"""
