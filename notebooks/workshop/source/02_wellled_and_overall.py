# ruff: noqa: B018 (a cell's last expression is what the notebook displays)
# %% [markdown]
# # Session 2: Does Well-led drive Overall?
#
# **About 45 minutes.** Builds on session 1 (the wide ratings table).
#
# CQC has reported that, across 62 acute trust inspections, the **Well-led** rating matched the
# Overall rating almost 90% of the time, against 56% for Caring, 74% for Effective and 78% for
# Responsive and Safe. Does leadership "drive" the Overall rating? In this session you measure
# agreement between key questions and the Overall rating, learn why raw agreement flatters, and
# decide what the numbers can and cannot say.
#
# The data are **synthetic**, with the agreement of each key question planted, so the checks
# know the answers.

# %% tags=["parameters"]
data_dir: str = ""  # folder of a synthetic dataset; empty for the embedded dataset (written on first use)

# %%
import pandas as pd

from cqc_research import plots, teaching
from cqc_research.display import show_crosstab, show_ratings
from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
from cqc_research.metrics.agreement import crosstab, domain_agreement, weighted_kappa
from cqc_research.plots.agreement import agreement_bars

plots.set_theme()
ws = teaching.start(data_dir)
wide = ratings_wide(load_latest_ratings(ws.paths["ratings_ods"]), level="location")
show_ratings(wide, ["location_name", "sector", "Overall", "Safe", "Effective", "Caring",
                    "Responsive", "Well-led"], max_rows=5)

# %% [markdown]
# ## 1. Cross-tabulate
#
# Each cell below counts locations by their Overall rating (rows) and their Well-led rating
# (columns). The diagonal is where the two agree. Shading shows the share of each row.

# %%
show_crosstab(crosstab(wide, a="Overall", b="Well-led"))

# %% [markdown]
# ### Exercise 2.1
#
# What **share** of locations have a Well-led rating **equal** to their Overall rating? Count
# only locations with both ratings on the scale. Give a share between 0 and 1.
#
# *Hint:* `domain_agreement(wide, domains=["Well-led"])` returns a one-row table with the
# share (`agreement`) and its 95% interval. You can also compute it by hand and compare.

# %% tags=["exercise"]
wellled_agreement = ...  # your answer: a share between 0 and 1

# %% tags=["solution"]
wl = domain_agreement(wide, domains=["Well-led"])
wellled_agreement = wl["agreement"].iloc[0]
# by hand, as a cross-check
both = wide.dropna(subset=["Overall", "Well-led"])
print((both["Overall"] == both["Well-led"]).mean())
wl[["domain", "n", "agreement", "agreement_ci_low", "agreement_ci_high"]]

# %%
teaching.check_wellled_agreement(wellled_agreement)

# %% [markdown]
# ## 2. All five key questions
#
# The same measure for every key question, with 95% confidence intervals as whiskers.

# %%
agreement = domain_agreement(wide)
fig = agreement_bars(agreement, title="Key question equal to Overall (95% CI)")
agreement[["domain", "n", "agreement", "agreement_ci_low", "agreement_ci_high",
           "share_domain_higher", "share_domain_lower"]].round(3)

# %% [markdown]
# ### Exercise 2.2
#
# Which key question agrees with the Overall rating **least** often? Answer with its name, as
# text (for example `"Safe"`).

# %% tags=["exercise"]
least = ...  # your answer: a key question's name, in quotes

# %% tags=["solution"]
least = agreement.sort_values("agreement")["domain"].iloc[0]
least

# %%
teaching.check_least_agreeing_domain(least)

# %% [markdown]
# ## 3. Agreement beyond chance: weighted kappa
#
# Most locations are rated Good, so two ratings can agree often even if they are unrelated:
# both are usually "Good". **Cohen's kappa** measures agreement *beyond* what the margins would
# give by chance (0 = chance level, 1 = perfect). The **weighted** kappa also gives partial
# credit to near misses (Good against Outstanding is closer than Inadequate against
# Outstanding); linear weights are the default.
#
# ### Exercise 2.3
#
# What is the linear weighted kappa between **Overall** and **Well-led**?
#
# *Hint:* `weighted_kappa(wide, a="Overall", b="Well-led")` returns a one-row table with
# `kappa` and its interval.

# %% tags=["exercise"]
kappa = ...  # your answer: a number between -1 and 1

# %% tags=["solution"]
k = weighted_kappa(wide, a="Overall", b="Well-led")
kappa = k["kappa"].iloc[0]
k

# %%
teaching.check_wellled_kappa(kappa)

# %% [markdown]
# Kappa for every key question, beside the raw agreement:

# %%
fig = agreement_bars(agreement, estimate="weighted_kappa",
                     title="Weighted kappa (linear) with the Overall rating (95% CI)")

# %% [markdown]
# ### Exercise 2.4
#
# Is Well-led's agreement with Overall **clearly** higher than Caring's, in the sense that their
# 95% confidence intervals do not overlap? Answer `True` or `False`.

# %% tags=["exercise"]
clearly_higher = ...  # your answer: True or False

# %% tags=["solution"]
by_domain = agreement.set_index("domain")
clearly_higher = bool(by_domain.loc["Well-led", "agreement_ci_low"]
                      > by_domain.loc["Caring", "agreement_ci_high"])
clearly_higher

# %%
teaching.check_wellled_vs_caring(clearly_higher)

# %% [markdown]
# ## 4. By sector
#
# Does the pattern hold in each sector? Small sectors have wide intervals.

# %%
by_sector = domain_agreement(wide, by="sector")
fig = agreement_bars(by_sector, hue="sector", title="Key question equal to Overall, by sector (95% CI)")
by_sector.pivot(index="domain", columns="sector", values="agreement").round(2)

# %% [markdown]
# ## To discuss
#
# - Agreement shows that two ratings **move together**, not that one **drives** the other.
#   Inspectors rate all key questions from the same visit and evidence, and CQC's rating
#   principles build the Overall rating from all five. What evidence would you need to say that
#   leadership *causes* a better rating?
# - Why is kappa much lower than the raw agreement here? When would the two tell the same story?
# - CQC's 90% figure came from 62 acute trusts. How wide would a 95% interval be for 56 agreements
#   out of 62? (Try `proportion_ci(56, 62)` from `cqc_research.metrics.intervals`.)
#
# **Next:** session 3 asks whether routine indicators predict ratings.
