"""Moved to :mod:`ocpplab_sim.scenario.language.preflight`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import preflight as _moved

sys.modules[__name__] = _moved
