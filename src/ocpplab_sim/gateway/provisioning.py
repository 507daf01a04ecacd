"""Durable CPO lifecycle: create, provision in the background, delete, expire.

Creation writes the ``cpos`` row as ``pending`` (plus its OCPI credentials with a fresh token A)
and returns at once. A background task then marks it ``provisioning`` and, in ONE transaction,
writes every location, charger, EVSE and topology row and flips the status to ``ready``; if
anything fails the status becomes ``failed`` with the error text. Because the rows and the
``ready`` flip commit together, a CPO found ``pending``/``provisioning`` at start-up has no rows
and :meth:`Provisioner.resume` simply provisions it again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .api_models import CpoCreate
from .db import Charger, Cpo, Database, Evse, Location, OcpiCredentials, Topology
from .mapping import PROFILES
from .templates import ChargerModel, Template

__all__ = ["ConflictError", "Provisioner", "new_password", "new_token"]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Disconnect = Callable[[int], Awaitable[None]]


class ConflictError(Exception):
    """The request conflicts with existing state (reused idempotency key)."""


def new_token() -> str:
    """A random OCPI/Gateway token (43 URL-safe characters, well under OCPI's 64)."""
    return secrets.token_urlsafe(32)


def new_password() -> str:
    """A charger password for security profiles 1/2: 32 characters from [A-Za-z0-9_-]
    (OCPP 2.0.1 A00.FR: passwords are 16-40 characters)."""
    return secrets.token_urlsafe(24)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Provisioner:
    """Owns CPO creation/deletion and the background tasks that provision and expire CPOs.

    ``disconnect(cpo_id)`` must close every websocket of the CPO's chargers; it is called after
    a deletion is committed. ``hold_open`` keeps each provisioning transaction open that many
    seconds before its commit (fault injection only). Call :meth:`aclose` at shutdown to cancel
    running tasks.
    """

    def __init__(
        self,
        db: Database,
        catalog: Mapping[str, Template],
        clock: Clock,
        disconnect: Disconnect,
        *,
        hold_open: float = 0.0,
    ) -> None:
        self._db = db
        self._hold_open = hold_open
        self._catalog = catalog
        self._clock = clock
        self._disconnect = disconnect
        self._tasks: set[asyncio.Task[None]] = set()

    async def create(self, body: CpoCreate) -> tuple[Cpo, OcpiCredentials]:
        """Write a ``pending`` CPO and start provisioning it.

        With an ``idempotency_key`` already used for the same request, return that CPO instead
        (no new task). Raises :class:`ConflictError` if the key was used for a different request.
        """
        template = self._catalog[body.template]
        params = template.check_params(body.template_params) if template.parameterised else None
        now = self._clock()
        async with self._db.write() as session:
            if body.idempotency_key is not None:
                found = await session.scalar(
                    select(Cpo).where(Cpo.idempotency_key == body.idempotency_key)
                )
                if found is not None:
                    same = (
                        found.template == body.template
                        and found.country_code == body.party.country_code
                        and found.party_id == body.party.party_id
                        and found.name_prefix == body.name_prefix
                        and found.mapping_profile == body.mapping_profile
                        and found.template_params == params
                        and found.ocpp_security_profile == body.ocpp_security_profile
                    )
                    if not same:
                        raise ConflictError(
                            f"idempotency_key already used by CPO {found.id} for another request"
                        )
                    creds = await session.get_one(OcpiCredentials, found.id)
                    return found, creds
            counts = template.topology(params)
            cpo = Cpo(
                country_code=body.party.country_code,
                party_id=body.party.party_id,
                name_prefix=body.name_prefix,
                template=template.name,
                template_version=template.version,
                mapping_profile=body.mapping_profile,
                status="pending",
                error=None,
                idempotency_key=body.idempotency_key,
                ttl_seconds=body.ttl_seconds,
                template_params=params,
                ocpp_security_profile=body.ocpp_security_profile,
                n_locations=counts["locations"],
                n_chargers=counts["chargers"],
                n_evses=counts["evses"],
                n_connectors=counts["connectors"],
                expires_at=(
                    None if body.ttl_seconds is None else now + timedelta(seconds=body.ttl_seconds)
                ),
                created_at=now,
                updated_at=now,
            )
            session.add(cpo)
            await session.flush()
            creds = OcpiCredentials(cpo_id=cpo.id, token_a=new_token())
            session.add(creds)
        self.start(cpo.id)
        return cpo, creds

    def start(self, cpo_id: int) -> None:
        """Provision ``cpo_id`` in a background task."""
        task = asyncio.get_running_loop().create_task(
            self._provision(cpo_id), name=f"provision-cpo-{cpo_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        """Restart provisioning of every CPO left ``pending``/``provisioning`` by a stop."""
        async with self._db.read() as session:
            ids = list(
                await session.scalars(
                    select(Cpo.id).where(Cpo.status.in_(("pending", "provisioning")))
                )
            )
        for cpo_id in ids:
            self.start(cpo_id)

    async def _provision(self, cpo_id: int) -> None:
        try:
            async with self._db.write() as session:
                cpo = await session.get_one(Cpo, cpo_id)
                if cpo.status not in ("pending", "provisioning"):
                    return
                cpo.status, cpo.updated_at = "provisioning", self._clock()
            async with self._db.write() as session:
                cpo = await session.get_one(Cpo, cpo_id)
                # Deletion may have committed while this task waited for the write lock.
                if cpo.status != "provisioning":
                    return
                template = self._catalog[cpo.template].expand(cpo.template_params)
                await self._write_network(session, cpo, template)
                if self._hold_open > 0:
                    # Fault injection for restart tests: the transaction stays uncommitted.
                    await asyncio.sleep(self._hold_open)
                cpo.status, cpo.updated_at = "ready", self._clock()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("provisioning of CPO %s failed", cpo_id)
            async with self._db.write() as session:
                cpo = await session.get_one(Cpo, cpo_id)
                if cpo.status != "deleted":
                    cpo.status, cpo.error = "failed", f"{type(exc).__name__}: {exc}"
                    cpo.updated_at = self._clock()

    async def _write_network(self, session: AsyncSession, cpo: Cpo, template: Template) -> None:
        """Add every row of the network; flushes twice per location (ids are needed for the
        foreign keys), so a 1,000-charger network stays one quick transaction."""
        now = self._clock()
        offline = PROFILES[cpo.mapping_profile].offline or "UNKNOWN"
        secured = cpo.ocpp_security_profile >= 1
        for loc_pos, spec in enumerate(template.locations, start=1):
            location = Location(
                ocpi_id=f"{cpo.id}-{spec.key}",
                cpo_id=cpo.id,
                position=loc_pos,
                key=spec.key,
                slug=f"{_slug(spec.name)}-{cpo.id}",
                name=spec.name,
                address=spec.address,
                city=spec.city,
                postal_code=spec.postal_code,
                location_type=spec.location_type,
                country=spec.country,
                latitude=spec.latitude,
                longitude=spec.longitude,
                time_zone=spec.time_zone,
                owner_name=template.owner_name,
                publish=True,
                created_at=now,
                updated_at=now,
                last_updated=now,
            )
            session.add(location)
            await session.flush()
            chargers: list[tuple[Charger, ChargerModel]] = []
            number = 0
            for group in spec.chargers:
                model = template.models[group.model]
                for _ in range(group.count):
                    number += 1
                    charger = Charger(
                        cpo_id=cpo.id,
                        location_pk=location.pk,
                        position=number,
                        identity=f"{cpo.name_prefix}-{cpo.id}-{spec.key}-{number:02d}",
                        ocpp_version=model.ocpp_version,
                        connector_type=model.connector.standard,
                        vendor=model.vendor,
                        model=model.model,
                        # OCPP 1.6 security whitepaper / 2.0.1 A00: 16-40 characters.
                        password=new_password() if secured else None,
                        online=False,
                    )
                    chargers.append((charger, model))
                    session.add(charger)
            await session.flush()
            for charger, model in chargers:
                outputs = model.outputs
                if charger.position == 1:
                    session.add(
                        Topology(
                            cpo_id=cpo.id,
                            location_pk=location.pk,
                            charger_pk=charger.pk,
                            station_id=charger.identity,
                            evse_uid=None,
                            ocpp_number=None,
                            is_default_for_location=True,
                        )
                    )
                nn = f"{charger.position:02d}"
                multi = outputs > 1
                for output in range(1, outputs + 1):
                    uid = f"{cpo.id}-{spec.key}-{nn}" + (f"_C{output}" if multi else "")
                    evse_id = f"{cpo.country_code}*{cpo.party_id}*E{cpo.id}*{spec.key}*{nn}"
                    session.add(
                        Evse(
                            uid=uid,
                            cpo_id=cpo.id,
                            location_pk=location.pk,
                            charger_pk=charger.pk,
                            ocpp_number=output,
                            evse_id=evse_id + (f"*{output}" if multi else ""),
                            ocpp_status=None,
                            online=False,
                            ocpi_status=offline,
                            last_updated=now,
                            connector_last_updated=now,
                            **model.connector.model_dump(),
                        )
                    )
                    session.add(
                        Topology(
                            cpo_id=cpo.id,
                            location_pk=location.pk,
                            charger_pk=charger.pk,
                            station_id=charger.identity,
                            evse_uid=uid,
                            ocpp_number=output,
                            is_default_for_location=False,
                        )
                    )
        await session.flush()

    async def delete(self, cpo_id: int) -> bool:
        """Mark the CPO deleted, revoke its OCPI tokens, then disconnect its chargers.

        Returns False if no such CPO exists. Deleting a deleted CPO is a no-op returning True.
        """
        async with self._db.write() as session:
            cpo = await session.get(Cpo, cpo_id)
            if cpo is None:
                return False
            if cpo.status != "deleted":
                now = self._clock()
                cpo.status, cpo.deleted_at, cpo.updated_at = "deleted", now, now
                creds = await session.get(OcpiCredentials, cpo_id)
                if creds is not None:
                    creds.token_a = creds.token_c = None
                    creds.revoked_at = now
        await self._disconnect(cpo_id)
        return True

    async def renew(self, cpo_id: int, ttl_seconds: int) -> datetime | None:
        """Make the CPO expire ``ttl_seconds`` from now; None when it is deleted (or unknown)."""
        async with self._db.write() as session:
            cpo = await session.get(Cpo, cpo_id)
            if cpo is None or cpo.status == "deleted":
                return None
            now = self._clock()
            cpo.expires_at = now + timedelta(seconds=ttl_seconds)
            cpo.updated_at = now
            return cpo.expires_at

    async def sweep_expired(self) -> list[int]:
        """Delete every CPO whose ``expires_at`` has passed; return their ids."""
        async with self._db.read() as session:
            ids = list(
                await session.scalars(
                    select(Cpo.id).where(Cpo.status != "deleted", Cpo.expires_at <= self._clock())
                )
            )
        for cpo_id in ids:
            await self.delete(cpo_id)
        return ids

    async def run_expiry_sweeper(self, interval: float) -> None:
        """Call :meth:`sweep_expired` every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_expired()
            except Exception:
                logger.exception("expiry sweep failed")

    async def aclose(self) -> None:
        """Cancel running provisioning tasks and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
