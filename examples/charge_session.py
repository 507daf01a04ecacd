"""One charging session on the embedded reference gateway, checked on both sides.

Starts the reference gateway on a free loopback port, provisions the ``small-urban-ac``
network, runs one session on its first charger and waits for the OCPP status on the charger
and the OCPI status the gateway publishes. Run: ``python examples/charge_session.py``.
"""

import asyncio

from ocpplab_sim import ReferenceGateway


async def main() -> None:
    async with (
        ReferenceGateway() as gateway,
        gateway.provision("small-urban-ac") as network,
    ):
        print(f"CPO {network.cpo_id}: {len(network.chargers)} chargers")
        charger = await network.start_charger()  # the first one; stopped with the network
        evse_uid = network.charger(charger.identity).evses[0].evse_uid
        await network.wait_for_ocpi_status(evse_uid, "AVAILABLE", timeout_s=10)
        print(f"{charger.identity} (OCPP {charger.version}) booted; {evse_uid} is AVAILABLE")

        await charger.plug_in(1)
        await charger.start_charging(1, "TOKEN0001")
        await charger.wait_for_status(1, "Charging", timeout_s=10)
        await network.wait_for_ocpi_status(evse_uid, "CHARGING", timeout_s=10)
        print(f"{evse_uid} is CHARGING")

        await charger.stop_charging(1)
        await charger.unplug(1)
        await network.wait_for_ocpi_status(evse_uid, "AVAILABLE", timeout_s=10)
        print(f"{evse_uid} is AVAILABLE again")


if __name__ == "__main__":
    asyncio.run(main())
