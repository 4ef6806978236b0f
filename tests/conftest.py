"""Test-wide settings.

Hypothesis draws new examples on every local run (that is how the property
tests find new cases; a case found is pinned as a test of its own). Under CI
(``CI`` set, as ``.ci/run`` does) it draws the same examples every run, so a
build passes or fails on the code alone.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
