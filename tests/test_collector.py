"""The garbage collector of a serving process (`bridge.serving.collector`): set once the process-wide bridge is
built, and only then."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from bridge.config.load import load_settings
from bridge.gateway.settings import load_gateway_settings
from bridge.serving.collector import YOUNG_THRESHOLD
from bridge.serving.process import Bridge, use_bridge
from tests.support.paths import ROOT

PROBE = """
import gc, json
from bridge.serving.process import current_bridge
before = (gc.get_threshold(), gc.get_freeze_count())
current_bridge()
print(json.dumps({"before": before, "after": (gc.get_threshold(), gc.get_freeze_count())}))
"""


@pytest.mark.process
def test_the_process_wide_bridge_sets_the_collector_when_it_is_built() -> None:
    """As `python -m bridge` and the Functions worker build it: start-up's objects frozen, the young threshold
    raised, the other two as CPython has them."""
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, env={})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    (young, middle, oldest), frozen = seen["before"]
    assert (young, frozen) == (700, 0), "CPython's defaults before"
    assert seen["after"][0] == [YOUNG_THRESHOLD, middle, oldest]
    assert seen["after"][1] > 10_000, "what start-up made is out of the collector's sight"


def test_a_bridge_a_test_runs_in_its_own_process_leaves_the_collector_alone() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    with use_bridge(Bridge(load_settings({}), load_gateway_settings({}))):
        pass
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
