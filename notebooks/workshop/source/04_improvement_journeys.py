# ruff: noqa: B018 (a cell's last expression is what the notebook displays)
# %% [markdown]
# # Session 4: Improvement journeys
#
# **About 45 minutes.** Builds on sessions 1 to 3.
#
# CQC has reported that 76% of services rated Inadequate had improved when they were
# re-inspected (23% to Good, 53% to Requires improvement), and that the capacity to improve is
# weaker in general practice and adult social care than in hospitals. In this session you rebuild
# figures like these from rating **histories**: pairs of consecutive inspections, transition
# matrices, and the time it takes to improve, allowing for services not yet re-inspected.
#
# The data are **synthetic**: ratings move from one inspection to the next by a known
# transition matrix in each sector, so the checks know the answers.

# %% tags=["parameters"]
data_dir: str = ""  # folder of a synthetic dataset; empty for the embedded dataset (written on first use)

# %%
import pandas as pd

from cqc_research import plots, teaching
from cqc_research.display import show_ratings
from cqc_research.io.cqc_json import load_api_folder
from cqc_research.metrics.transitions import (consecutive_pairs, improvement_from,
                                              time_to_improvement, transition_matrix)
from cqc_research.plots.transitions import improvement_plot, km_plot, transition_heatmap

plots.set_theme()
ws = teaching.start(data_dir)

# %% [markdown]
# ## 1. Rating histories
#
# The Latest ratings file only holds today's ratings. CQC's API gives each location's earlier
# ratings too. `load_api_folder` reads a folder of API records into tidy tables; `history` has
# one row per location, inspection report and domain.

# %%
api = load_api_folder(ws.paths["api_folder"])
api

# %% [markdown]
# One location's journey, oldest first (the Overall rating only):

# %%
overall = api.history[api.history["domain"].astype(str) == "Overall"]
moves = overall.groupby("org_id")["rating"].nunique()
example = moves.idxmax()
show_ratings(overall[overall["org_id"] == example].sort_values("report_date"),
             ["org_id", "sector", "report_date", "rating", "rating_status", "source"])

# %% [markdown]
# ## 2. From histories to pairs
#
# `consecutive_pairs` pairs each rating with the **next** rating of the same service. It follows
# a service across re-registration (`relationships`), drops outcomes not on the scale (the
# ratings either side of them are paired) and counts a report seen twice once. Its report says
# what each step removed.

# %%
pairs, report = consecutive_pairs(api.history, relationships=api.relationships, domain="Overall",
                                  with_report=True)
print(report)
pairs[["org_id", "sector", "from_date", "to_date", "months", "from_rating", "to_rating",
       "change"]].head()

# %% [markdown]
# ### Exercise 4.1
#
# How many Overall ratings of **Inadequate** (all sectors) were **followed by another rating**?

# %% tags=["exercise"]
n_followed = ...  # your answer: a whole number

# %% tags=["solution"]
n_followed = int((pairs["from_rating"] == "Inadequate").sum())
n_followed

# %%
teaching.check_reinspected_inadequate(n_followed)

# %% [markdown]
# ## 3. What followed an Inadequate rating?
#
# `improvement_from` gives, per sector, the share that improved, stayed the same or got worse at
# the next inspection, and where they went (`to Good`, ...), with 95% Wilson intervals.

# %%
improved = improvement_from(pairs, start="Inadequate", by="sector")
fig = improvement_plot(improved)
improved.pivot(index="sector", columns="outcome", values="share").round(2)

# %% [markdown]
# ### Exercise 4.2
#
# What share of **adult social care** Inadequate ratings were followed by a **better** rating?

# %% tags=["exercise"]
asc_improved = ...  # your answer: a share between 0 and 1

# %% tags=["solution"]
row = improved[(improved["sector"] == "Adult social care") & (improved["outcome"] == "improved")]
asc_improved = row["share"].iloc[0]
row

# %%
teaching.check_improved_share(asc_improved)

# %% [markdown]
# ## 4. Transition matrices
#
# The full picture: for each rating at one inspection (rows), the share at each rating at the
# next (columns). Each row adds up to 1.

# %%
matrix = transition_matrix(pairs, by="sector")
fig = transition_heatmap(matrix, domain=None)

# %% [markdown]
# ### Exercise 4.3
#
# Of the **GP practices'** Good ratings, what share were followed by **Good** again?

# %% tags=["exercise"]
gp_stay_good = ...  # your answer: a share between 0 and 1

# %% tags=["solution"]
cell = matrix[(matrix["sector"] == "GP practices") & (matrix["from_rating"] == "Good")
              & (matrix["to_rating"] == "Good")]
gp_stay_good = cell["share"].iloc[0]
cell

# %%
teaching.check_good_stays_good(gp_stay_good)

# %% [markdown]
# ## 5. How long does improvement take?
#
# Some services rated Inadequate have not been re-inspected yet, or were re-inspected and did
# not improve. Leaving them out would make improvement look quicker than it is. Kaplan-Meier
# estimation keeps them as **censored**: "not improved yet, as of the data date".
# `time_to_improvement` does this, and censors services that closed at their closing date.

# %%
times = time_to_improvement(api.history, start="Inadequate", by="sector",
                            relationships=api.relationships,
                            end_dates=api.locations[["org_id", "deregistration_date"]])
fig = km_plot(times)
times

# %% [markdown]
# ### Exercise 4.4
#
# What is the **median** time, in months, from an **adult social care** Inadequate rating to the
# first better rating?

# %% tags=["exercise"]
median_months = ...  # your answer: a number of months

# %% tags=["solution"]
med = times.median.set_index("sector")
median_months = med.loc["Adult social care", "median_months"]
med

# %%
teaching.check_median_time(median_months)

# %% [markdown]
# ## To discuss
#
# - Services rated Inadequate are re-inspected within about six months; those rated Good wait
#   years. How does that shape the transition matrix, and the comparison between rows?
# - Some failing services close before they are re-inspected. Censoring them as "not improved
#   yet" assumes closure says nothing about improvement. Is that fair, and which way would it
#   bias the median?
# - A service inspected often contributes many pairs. What does that do to the confidence
#   intervals, which treat pairs as independent?
#
# **End of the workshop.** The full analyses behind these sessions are the report notebooks
# in `notebooks/` (`01_domain_agreement`, `02_indicators_vs_ratings`,
# `03_improvement_journeys`); `make reports` runs them all.
