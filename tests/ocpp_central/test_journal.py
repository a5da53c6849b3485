"""A charger's message journal keeps its most recent messages, oldest first."""

from __future__ import annotations

from gateway.ports import MessageRecord
from ocpp_central.connection import JOURNAL_SIZE, new_journal
from tests.builders import T0


def a_record(n: int) -> MessageRecord:
    return MessageRecord(at=T0, direction="in", message_id=str(n), action="Heartbeat", outcome="ok")


def test_the_journal_keeps_the_last_messages_in_order() -> None:
    """Past its size the oldest message goes; what stays is in arrival order."""
    journal = new_journal()
    for n in range(JOURNAL_SIZE + 7):
        journal.append(a_record(n))

    assert len(journal) == JOURNAL_SIZE
    assert [r.message_id for r in journal] == [str(n) for n in range(7, JOURNAL_SIZE + 7)]


def test_a_short_journal_holds_everything() -> None:
    """A charger that said little has all of it shown."""
    journal = new_journal()
    journal.append(a_record(1))

    assert tuple(journal) == (a_record(1),)


def test_a_message_noted_by_its_fields_reads_back_as_its_record() -> None:
    """note() and append() keep the same thing; reading gives MessageRecords in order."""
    journal = new_journal()
    journal.note(T0, "in", "7", "Heartbeat", "ok")
    journal.append(a_record(8))

    assert list(journal) == [a_record(7), a_record(8)]
