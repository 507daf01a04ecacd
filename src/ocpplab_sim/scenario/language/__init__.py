"""The scenario language: what a step is and the step registry (:mod:`.base`), the built-in
steps by family (:mod:`.steps`: each step's model, label, short form and handler side by side),
the scenario model, the loader, the JSON Schema, selectors, variables and the static checks. No
module here imports :mod:`ocpplab_sim.scenario.execution` at module level: a step's handler
reaches the engine through the ``StepRun`` it is given."""
