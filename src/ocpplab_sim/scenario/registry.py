"""Moved to :mod:`ocpplab_sim.scenario.language.registry`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import registry as _moved

sys.modules[__name__] = _moved
