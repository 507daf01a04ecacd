"""``python -m ocpplab_sim`` is the ``ocpplab-sim`` command."""

from ocpplab_sim.cli import main

raise SystemExit(main())
