"""Moved to :mod:`ocpplab_sim.scenario.language.selectors`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import selectors as _moved

sys.modules[__name__] = _moved
