"""Notebook 04's study module: its inputs, checks, figures and the tables it declares."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import InsufficientData
from cqc_research.metrics import spc as sp
from cqc_research.studies import inspection_effects as q


def test_parameters_are_checked():
    q.check_event_parameters(event="inspection", window_months=12, post_months=6)
    with pytest.raises(ValueError, match="event must be one of"):
        q.check_event_parameters(event="visit", window_months=12, post_months=6)
    with pytest.raises(ValueError, match="post_months"):
        q.check_event_parameters(event="publication", window_months=6, post_months=6)


def test_explicit_inputs_are_kept(tmp_path):
    from cqc_research.dataset import Study

    ind, api, ratings = tmp_path / "ind.csv", tmp_path / "api", tmp_path / "r.ods"
    ind.write_text("x\n")
    api.mkdir()
    ratings.write_text("x")
    study = Study.from_parameters(ae_path=str(ind), api_path=str(api), ratings_path="", root=tmp_path)
    assert q.inspection_inputs(study) == (str(ind), str(api), "")
    # a ratings workbook without an API folder gives the publication dates; no indicator: ""
    only = Study.from_parameters(ratings_path=str(ratings), root=tmp_path)
    assert q.inspection_inputs(only) == ("", "", str(ratings))
    assert q.indicator_unit("beds") == "units of beds"


def _panel(months=20):
    periods = pd.date_range("2019-01-01", periods=months, freq="MS")
    return pd.DataFrame({"org_code": "RA1", "period_start": periods,
                         "value": np.linspace(80, 90, months)})


def test_event_studies_on_too_short_a_series_is_insufficient_data():
    events = {"publication": pd.DataFrame({"org_code": ["RA1"],
                                           "event_date": pd.to_datetime(["2019-06-01"])})}
    with pytest.raises(InsufficientData, match="needs at least 25"):
        q.event_studies(_panel(20), events=events, window_months=12, post_months=6, measure="x")


def test_spc_event_figure_draws_the_trust():
    panel = _panel(40)
    events = {"publication": pd.DataFrame({"org_code": ["RA1"],
                                           "event_date": pd.to_datetime(["2020-07-10"])})}
    trust = q.spc_event_trust(panel, events=events, event="publication", window_months=6)
    assert trust["org_code"] == "RA1" and trust["n_before"] == 12
    spc = sp.spc_rules(trust["span"], value="value", time="period_start", rebase=trust["event_date"])
    fig = q.spc_event_figure(spc, trust, event="publication", indicator="ae", unit="percentage points")
    assert "RA1: ae" in fig.axes[0].get_title()
    plt.close(fig)
