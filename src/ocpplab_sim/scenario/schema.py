"""Moved to :mod:`ocpplab_sim.scenario.language.schema`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import schema as _moved

sys.modules[__name__] = _moved
