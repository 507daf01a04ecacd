"""The built-in steps of the scenario language, one module per family. Each module declares its
steps side by side: the model (with its label), its short form, its documentation, what it does
to a charger's connection (for the static checks) and its handler (how the engine runs it), and
lists their :class:`~ocpplab_sim.scenario.language.base.StepSpec` in ``STEPS``.

They are registered here, in the order ``docs/steps.md`` and the loader's messages list them:
the charging cycle (:mod:`.cycle`), the OCPI expectations (:mod:`.expect`), the charge-point
actions beyond the cycle (:mod:`.charger`), the central system's operations and what it sent or
reported (:mod:`.csms`), the blocks (:mod:`.blocks`).

This package was ``scenario/language/steps.py`` (labels and loop bindings): :func:`bind_step`
and :func:`step_label` are still importable from here.
"""

from ocpplab_sim.scenario.language.base import bind_step, register_step, step_label
from ocpplab_sim.scenario.language.steps import blocks, charger, csms, cycle, expect

__all__ = ["FAMILIES", "bind_step", "step_label"]

#: The families, in the order their steps are listed.
FAMILIES = (cycle, expect, charger, csms, blocks)

for _family in FAMILIES:
    for _spec in _family.STEPS:
        register_step(_spec)
