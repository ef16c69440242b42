"""Stop sequences matched by the bridge, across chunks and false starts."""

from __future__ import annotations

from bridge.model import Event, Finish, TextDelta
from bridge.upstreams.stops import StopSequences


def _run_stops(texts: list[str], sequences: list[str]) -> list[Event]:
    stops = StopSequences(sequences)
    events: list[Event] = []
    for text in texts:
        events += stops.feed([TextDelta(text)])
        if stops.finished:
            return events
    return events + stops.feed([Finish("end_turn")])


def test_stop_sequence_split_across_chunks() -> None:
    events = _run_stops(["hello wo", "rld, ST", "OP and more"], ["STOP"])
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "hello world, "
    assert events[-1] == Finish("stop_sequence", "STOP")


def test_stop_sequence_false_start_is_released() -> None:
    events = _run_stops(["a ST", "ART b"], ["STOP"])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "a START b"
    assert events[-1] == Finish("end_turn")
