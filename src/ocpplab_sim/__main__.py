"""``python -m ocpplab_sim`` is the ``ocpplab-sim`` command."""

from ocpplab_sim.entry import main

raise SystemExit(main())
