"""Run a scenario file from Python and look at its checks.

With no ``gateway_url`` the embedded reference gateway is started for the run. Run:
``python examples/run_scenario.py [SCENARIO]`` (default: ``examples/quick.yaml``).
"""

import asyncio
import sys
from pathlib import Path

from ocpplab_sim import run_scenario_file


async def main(path: Path) -> int:
    result = await run_scenario_file(path)
    for check in result.checks:
        print(f"{check.outcome.value:6} {check.name}")
    print(f"passed: {result.passed} (exit code {result.exit_code}: {result.message})")
    return result.exit_code


if __name__ == "__main__":
    default = Path(__file__).with_name("quick.yaml")
    sys.exit(asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)))
