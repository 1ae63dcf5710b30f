"""Erasure reaches the outbox, and the next act run finds the incident's existing ticket again."""

from __future__ import annotations

import pytest

from feedbackloop.act.outbox import read_actions
from feedbackloop.act.stage import plan_and_dispatch
from feedbackloop.governance.erasure import Subject, forget, resolve
from feedbackloop.lake import Lake
from feedbackloop.settings import Settings
from tests.act_data import incident, with_sinks, write_incidents
from tests.fakes.ticketing import FakeJira
from tests.governance_lake import JANE_EMAIL

pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def test_erasing_a_member_drops_the_action_row_and_the_ticket_is_readopted(governed: Settings) -> None:
    hers = resolve(governed, Subject(email=JANE_EMAIL)).doc_ids
    write_incidents(governed, [incident()], members={"inc-billing-1": [hers[0], "someone-else"]})
    with FakeJira() as jira:
        s = with_sinks(governed, jira=jira)
        plan_and_dispatch(s, "run-1")
        result = forget(governed, Subject(email=JANE_EMAIL))
        assert result.rows_by_table["gold.fct_actions"] == 1
        assert not read_actions(Lake(governed))
        write_incidents(governed, [incident()], members={"inc-billing-1": ["someone-else"]})
        stats = plan_and_dispatch(s, "run-2")
        assert (stats["adopted"], stats["created"]) == (1, 0) and list(jira.issues) == ["PAY-1"]
