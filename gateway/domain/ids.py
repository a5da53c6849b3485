"""Pure: identifier types, so that a charger id is never passed where an EVSE uid belongs."""

from typing import NewType

ChargerId = NewType("ChargerId", str)
EvseUid = NewType("EvseUid", str)
LocationId = NewType("LocationId", str)
MessageId = NewType("MessageId", str)
