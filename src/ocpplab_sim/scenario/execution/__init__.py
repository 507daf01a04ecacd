"""The scenario's execution: the engine (and the ``StepRun`` it gives each step's handler), the
expectations, the central-system operations, the frame observer, the engine's ports and its
events."""
