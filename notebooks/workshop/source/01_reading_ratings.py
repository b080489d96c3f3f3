# ruff: noqa: B018 (a cell's last expression is what the notebook displays)
# %% [markdown]
# # Session 1: Reading CQC ratings
#
# **About 40 minutes.** You will load CQC's *Latest ratings* file, see how a rating is recorded,
# count ratings the right way, and put a confidence interval on a share.
#
# The data are **synthetic**: written in the formats CQC publishes, with effects planted so that
# the checks know the answers. None of it describes a real service.
#
# **How the exercises work.** Run the cells from top to bottom (Shift+Enter runs one). In each
# exercise, replace the `...` with your answer, run that cell, then run the check below it. The
# check tells you what is right, what looks off, and a hint. Nothing breaks if you skip one.

# %% tags=["parameters"]
data_dir: str = ""  # folder of a synthetic dataset; empty for the embedded dataset (written on first use)

# %%
import pandas as pd

from cqc_research import plots, teaching
from cqc_research.display import show_ratings
from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
from cqc_research.metrics.intervals import proportion_ci
from cqc_research.ratings import NON_SCALE, RATINGS

plots.set_theme()
ws = teaching.start(data_dir)
ws

# %% [markdown]
# ## 1. One row per rating
#
# CQC publishes its current ratings each month as a spreadsheet, *Latest ratings*, with a
# `Locations` sheet and a `Providers` sheet. A **location** is a place where care is given (a
# care home, a GP surgery, a hospital); a **provider** is the organisation that runs it.
#
# Each row of the spreadsheet is one rating: one organisation, one *service or population group*
# (or the organisation as a whole, `Overall`), and one *domain*: the Overall rating or one of the
# five key questions (Safe, Effective, Caring, Responsive, Well-led). `load_latest_ratings` reads
# it into one tidy table.

# %%
long = load_latest_ratings(ws.paths["ratings_ods"])
print(f"{len(long):,} rows for {long['org_id'].nunique():,} organisations")
long[["level", "org_id", "location_name", "sector", "service_group", "domain", "rating",
      "rating_status", "publication_date"]].head(8)

# %% [markdown]
# The scale has four points, worst to best. The `rating` column is an **ordered categorical**:
# comparisons (`<`, `>=`), sorting and `min`/`max` follow the scale, not the alphabet.
#
# Some published values are not on the scale, such as *Inspected but not rated*. They are kept
# apart in `rating_status`, and `rating` is missing for them: a "not rated" is never silently
# turned into a rating, or dropped.

# %%
print("the scale, worst to best:", " < ".join(RATINGS))
print("published values that are not on the scale:", "; ".join(NON_SCALE))
long["rating"].dtype

# %% [markdown]
# ## 2. One row per location
#
# For most questions you want one row per location, with a column for each domain.
# `ratings_wide` builds that table; `show_ratings` shows it in CQC's colours (Outstanding has a
# star, as on CQC's website).

# %%
wide = ratings_wide(long, level="location")
show_ratings(wide, ["location_name", "sector", "Overall", "Safe", "Effective", "Caring",
                    "Responsive", "Well-led", "publication_date"], max_rows=8)

# %% [markdown]
# ### Exercise 1.1
#
# How many **locations** have an Overall rating on the four-point scale?
#
# *Think about:* the long table has many rows per location, and it also holds providers.

# %% tags=["exercise"]
n_rated = ...  # your answer: a whole number

# %% tags=["solution"]
n_rated = int(wide["Overall"].notna().sum())
n_rated

# %%
teaching.check_rated_locations(n_rated)

# %% [markdown]
# ## 3. The rating mix
#
# Most services are rated Good. The mix differs by sector; the bars below show it in CQC's
# colours, with the number of locations beside each sector.

# %%
fig = plots.rating_distribution(wide, by="sector", rating="Overall",
                                title="Overall rating of locations, by sector")

# %% [markdown]
# ### Exercise 1.2
#
# What **share** of *adult social care* locations with an Overall rating on the scale are rated
# **Good or better** (Good or Outstanding)? Give a share between 0 and 1.
#
# *Hint:* `wide["sector"] == "Adult social care"` picks the rows. Because ratings are ordered,
# `wide["Overall"] >= "Good"` is True for Good and Outstanding.

# %% tags=["exercise"]
share_good = ...  # your answer: a share between 0 and 1

# %% tags=["solution"]
asc = wide[wide["sector"] == "Adult social care"]
n_good = int((asc["Overall"] >= "Good").sum())
n_asc = int(asc["Overall"].notna().sum())
share_good = n_good / n_asc
share_good

# %%
teaching.check_share_good_or_better(share_good)

# %% [markdown]
# ### Exercise 1.3
#
# A share from a few hundred locations is an *estimate*. Give its **95% confidence interval**
# as a pair `(low, high)`, using the Wilson method: `proportion_ci(count, n)` returns it.

# %% tags=["exercise"]
interval = ...  # your answer: (low, high)

# %% tags=["solution"]
interval = proportion_ci(n_good, n_asc)
interval

# %%
teaching.check_wilson_interval(interval)

# %% [markdown]
# ### Exercise 1.4
#
# How many locations, across **all sectors**, are rated **Requires improvement or worse**
# (Overall)?

# %% tags=["exercise"]
n_poor = ...  # your answer: a whole number

# %% tags=["solution"]
n_poor = int((wide["Overall"] <= "Requires improvement").sum())
n_poor

# %%
teaching.check_ri_or_worse(n_poor)

# %% [markdown]
# ## 4. What a rating means, and when it was given
#
# A rating is the judgement of one inspection, published on one date. Services rated Good are
# inspected least often, so many ratings are several years old. Before comparing ratings with
# anything measured *now*, look at how old they are.

# %%
age = wide.assign(year=wide["publication_date"].dt.year)
pd.crosstab(age["year"], age["sector"].astype(str), margins=True, margins_name="all")

# %% [markdown]
# ## To discuss
#
# - What does a rating published four years ago tell a person choosing a care home today?
# - Why keep *Inspected but not rated* apart, instead of treating it as missing or as a rating?
# - The interval in exercise 1.3 treats locations as independent. Some share a provider (and so
#   its managers and policies). Would that make the true uncertainty larger or smaller?
#
# **Next:** session 2 asks how the five key questions relate to the Overall rating.
