import pandas as pd
import pytest

from cqc_research.errors import UnknownRatingError
from cqc_research.ratings import (
    RATING_DTYPE,
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


def test_unknown_rating_names_value_and_row():
    with pytest.raises(UnknownRatingError) as err:
        parse_ratings(["Good", "Excellent"], where="f.ods", rows=[7, 8])
    assert "'Excellent'" in str(err.value) and "row 8" in str(err.value) and "f.ods" in str(err.value)


def test_unknown_rating_can_be_kept():
    with pytest.warns(UserWarning, match="Excellent"):
        out = parse_ratings(["Good", "Excellent"], unknown="keep")
    assert out["rating_status"].tolist() == ["Rated", "Unknown"]


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
