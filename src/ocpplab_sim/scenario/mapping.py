"""Moved to :mod:`ocpplab_sim.scenario.language.mapping`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import mapping as _moved

sys.modules[__name__] = _moved
