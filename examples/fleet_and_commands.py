"""A whole network online, and a command from the central system.

Provisions the ``mixed-depot`` network (OCPP 1.6J and 2.0.1 chargers) on the embedded
reference gateway, starts every charger as one fleet, has the central system send a 2.0.1
charger a RequestStartTransaction through the gateway's command API and waits until the
charger received it and is charging. Run: ``python examples/fleet_and_commands.py``.
"""

import asyncio

from ocpplab_sim import ReferenceGateway


async def main() -> None:
    async with (
        ReferenceGateway() as gateway,
        gateway.provision("mixed-depot") as network,
    ):
        fleet = await network.start_fleet()  # every charger; stopped with the network
        versions = sorted({charger.version for charger in fleet})
        print(f"{len(fleet)} chargers online (OCPP {', '.join(versions)})")

        charger = next(c for c in fleet if c.version == "2.0.1")
        await charger.plug_in(1)
        answer = await network.client.command(
            network.cpo_id,
            charger.identity,
            "RequestStartTransaction",
            {
                "idToken": {"idToken": "TOKEN0001", "type": "ISO14443"},
                "remoteStartId": 1,
                "evseId": 1,
            },
        )
        request = await charger.wait_for_call("RequestStartTransaction", timeout_s=10)
        print(
            f"{charger.identity} got RequestStartTransaction for EVSE {request['evseId']}: "
            f"{answer.status} {answer.response}"
        )
        await charger.wait_for_status(1, "Charging", timeout_s=10)
        print(f"{charger.identity} EVSE 1 is {charger.status(1)}")


if __name__ == "__main__":
    asyncio.run(main())
