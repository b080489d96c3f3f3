import warnings

import pandas as pd
import pytest

from cqc_research.errors import UnknownRatingError
from cqc_research.ratings import (
    JUDGEMENTS,
    RATING_DTYPE,
    STATUS_DTYPE,
    UnknownRatingWarning,
    filter_sector,
    normalise_domain,
    normalise_rating,
    parse_ratings,
    rating_codes,
    sector_of,
)


def test_scale_is_ordered():
    s = pd.Series(["Good", "Inadequate", "Outstanding", "Requires improvement"], dtype=RATING_DTYPE)
    assert s.sort_values().tolist() == ["Inadequate", "Requires improvement", "Good", "Outstanding"]
    assert (s > "Requires improvement").tolist() == [True, False, True, False]


@pytest.mark.parametrize("text, expected", [
    ("Requires Improvement", ("Requires improvement", "Rated")),
    ("  requires   improvement ", ("Requires improvement", "Rated")),
    ("OUTSTANDING", ("Outstanding", "Rated")),
    ("Inspected but not rated", (None, "Inspected but not rated")),
    ("Insufficient evidence to rate", (None, "Insufficient evidence to rate")),
    ("No published rating", (None, "No published rating")),
    ("Not Rated", (None, "Not rated")),
    ("Excellent", (None, None)),
])
def test_normalise_rating(text, expected):
    assert normalise_rating(text) == expected


def test_non_scale_values_are_kept_as_status_not_dropped():
    out = parse_ratings(["Good", "Not rated", "", None, "Inspected but not rated"])
    assert out["rating"].isna().tolist() == [False, True, True, True, True]
    assert out["rating_status"].tolist() == ["Rated", "Not rated", "No published rating",
                                             "No published rating", "Inspected but not rated"]
    assert len(out) == 5


def test_unknown_rating_names_value_and_row_when_strict():
    with pytest.raises(UnknownRatingError) as err:
        parse_ratings(["Good", "Excellent"], where="f.ods", rows=[7, 8], strict=True)
    assert "'Excellent'" in str(err.value) and "row 8" in str(err.value) and "f.ods" in str(err.value)
    assert "strict=True" in str(err.value)  # the Python hint
    assert "--strict" in err.value.for_command_line() and "strict=" not in err.value.for_command_line()
    with pytest.raises(UnknownRatingError):
        parse_ratings(["Excellent"], unknown="raise")  # the older spelling


def test_unknown_rating_is_kept_counted_and_warned_once_at_the_defaults():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = parse_ratings(["Good", "Excellent", "Excellent", "Superb"], where="f.ods",
                            rows=[2, 3, 4, 5])
    assert out["rating_status"].tolist() == ["Rated", "Unknown", "Unknown", "Unknown"]
    assert out["rating_text"].tolist() == ["Good", "Excellent", "Excellent", "Superb"]
    assert out["rating"].isna().tolist() == [False, True, True, True]
    msgs = [str(w.message) for w in caught if issubclass(w.category, UnknownRatingWarning)]
    assert len(msgs) == 1
    assert "'Excellent' x 2" in msgs[0] and "'Superb' x 1" in msgs[0] and "f.ods, row 3" in msgs[0]


@pytest.mark.parametrize("text, status", [
    ("No action", "No action"), ("no action", "No action"),
    ("Requirements notice", "Requirement notice"), ("Enforcement action", "Enforcement action"),
    ("Compliance action", "Compliance action"), ("Warning notice", "Warning notice"),
    ("Met this standard", "Met this standard"), ("Not meeting this standard", "Not met this standard"),
])
def test_older_regulatory_judgements_are_statuses_with_their_text(text, status):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = parse_ratings([text], strict=True)
    assert out["rating_status"].tolist() == [status]
    assert out["rating_text"].tolist() == [text]
    assert out["rating"].isna().all()
    assert status in JUDGEMENTS and status in STATUS_DTYPE.categories


@pytest.mark.parametrize("text, expected", [("Well led", "Well-led"), ("well-led", "Well-led"),
                                            ("SAFE", "Safe"), ("Overall", "Overall")])
def test_domains(text, expected):
    assert normalise_domain(text) == expected


def test_sectors():
    assert sector_of("Acute hospital - NHS non-specialist") == "NHS hospitals"
    assert sector_of("GP Practices") == "GP practices"
    assert sector_of("Residential social care") == "Adult social care"
    assert sector_of("Community based adult social care services") == "Adult social care"
    assert sector_of("Dentists") == "Other"
    assert sector_of(None) == "Other"


def test_filter_sector_accepts_category_or_sector_case_insensitively():
    d = pd.DataFrame({"sector": ["GP practices", "Adult social care"],
                      "inspection_category": ["GP Practices", "Residential social care"]})
    assert len(filter_sector(d, "GP Practices")) == 1
    assert len(filter_sector(d, "adult social care")) == 1
    assert len(filter_sector(d, "All")) == 2
    with pytest.raises(ValueError, match="sectors present"):
        filter_sector(d, "Dentists")


def test_rating_codes():
    assert rating_codes(["Inadequate", "Outstanding", None]).tolist()[:2] == [1.0, 4.0]
