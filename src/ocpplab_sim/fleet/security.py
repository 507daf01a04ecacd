"""Security events of a simulated charge point (OCPP 2.0.1 Part 2, A04 and the security events
list of the Part 2 appendix; OCPP 1.6 Security Whitepaper §8, SecurityEventNotification).

Reported events: ``ResetOrReboot`` (a reset of the station or of one EVSE, a reboot),
``FirmwareUpdated`` (after a firmware install) and ``FailedToAuthenticateAtCsms`` (1.6:
``FailedToAuthenticateAtCentralSystem``) when the central system refuses the charge point's
credentials with HTTP 401 or 403 on a (re)connect.

Contract: an event is kept in memory until a SecurityEventNotification for it is answered; it
is sent only while connected and registered (after BootNotification Accepted, 2.0.1 B02/B03),
so events that happen offline or during a reboot go out after the next boot or reconnect
(A04: critical events are queued while offline). Repeated occurrences of an event still
waiting are merged (a refused reconnect loop reports once). Events are not part of the durable
offline queue: a harness restart loses the ones still waiting. A CALLERROR, a timeout or a
schema violation drops the event with a log line; it never fails the action that caused it.
"""

from __future__ import annotations

import logging

from ocpplab_sim.errors import ChargePointError, ConnectivityError, CsmsUnreachable
from ocpplab_sim.fleet.base import ChargePointBase

__all__ = ["SecurityEvents"]

log = logging.getLogger(__name__)


class SecurityEvents(ChargePointBase):
    """Records security events and delivers them as SecurityEventNotification."""

    def _credentials_refused(self, status: int) -> None:
        """Called by the connection when a connect attempt was refused (no socket yet: the
        event waits for the next successful connect)."""
        self._record_security_event(
            "FailedToAuthenticateAtCsms", f"HTTP {status} on connect to {self.config.csms_url}"
        )

    def _record_security_event(self, event: str, tech_info: str | None) -> None:
        if any(pending[0] == event for pending in self._security_pending):
            return
        self._security_pending.append((event, self._clock(), tech_info))

    async def _security_event(self, event: str, tech_info: str | None = None) -> None:
        """Record ``event`` (a name of the 2.0.1 security events list) and send it now when
        possible; see the module docstring."""
        self._record_security_event(event, tech_info)
        await self._flush_security_events()

    async def _flush_security_events(self) -> None:
        """Send the waiting events in order while connected and registered."""
        while self._security_pending and self._conn.connected and not self._needs_boot:
            event, at, tech_info = self._security_pending.pop(0)
            call = self._adapter.security_event_notification(event, at, tech_info)
            try:
                await self._call(call)
            except CsmsUnreachable:
                self._security_pending.insert(0, (event, at, tech_info))
                return
            except (ChargePointError, ConnectivityError) as exc:
                log.info("%s: security event %s not delivered: %s", self.identity, event, exc)
