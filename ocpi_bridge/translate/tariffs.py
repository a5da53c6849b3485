"""Pure: configured tariffs -> OCPI Tariff objects and the engine's tariff plans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.config import OperatorSettings, TariffSettings
from ocpi_bridge.models.tariffs import Tariff
from ocpi_bridge.translate.tariff_model import TariffPlan, tariff_from_ocpi


def to_ocpi_tariff(
    tariff: TariffSettings, *, operator: OperatorSettings, last_updated: datetime
) -> Tariff:
    """The OCPI Tariff partners receive; ``description`` becomes English alt text."""
    doc: dict[str, Any] = tariff.model_dump(exclude_none=True, exclude={"description"})
    for element in doc["elements"]:
        restrictions = element.get("restrictions")
        if restrictions is not None and not restrictions.get("day_of_week"):
            restrictions.pop("day_of_week", None)
    if tariff.description:
        doc["tariff_alt_text"] = [{"language": "en", "text": tariff.description}]
    doc.update(
        country_code=operator.country_code,
        party_id=operator.party_id,
        last_updated=last_updated,
    )
    return Tariff.model_validate(doc)


def to_plan(tariff: Tariff) -> TariffPlan:
    """The tariff engine's view of an OCPI Tariff."""
    return tariff_from_ocpi(tariff.model_dump(mode="json", exclude_none=True))
