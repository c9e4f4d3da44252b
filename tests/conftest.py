"""The test suite reads scenarios of every layer, so it composes them as the console script and
the service do: every layer's scenario sections are registered before any test reads a file.

That registration in the real entry points is tested in fresh processes
(tests/test_scenario_sections.py), where this file does not run.
"""

from __future__ import annotations

from api.sections import register_all

register_all()
