# ruff: noqa: B018 (a cell's last expression is what the notebook displays)
# %% [markdown]
# # Session 3: Do indicators predict ratings? Why accuracy misleads
#
# **About 50 minutes.** Builds on sessions 1 and 2.
#
# Researchers at the University of Manchester and the King's Fund fitted a model of GP
# practices' ratings on routinely published indicators. It got 79.7% of ratings right, which
# sounds impressive, until you learn that 78.8% of practices were rated Good: always guessing
# "Good" does almost as well. Its weighted kappa was 0.097.
#
# In this session you link GP practices to the *NHS Payments to General Practice* data, fit the
# same kind of model (an ordered logit), and score it honestly: against the **modal-class
# baseline**, with **cross-validation** and **weighted kappa**.
#
# The data are **synthetic**: the generator planted a *weak* link between two payments measures
# and the rating, so the checks know the answers.

# %% tags=["parameters"]
data_dir: str = ""  # folder of a synthetic dataset; empty for the embedded dataset (written on first use)

# %%
import numpy as np
import pandas as pd

from cqc_research import plots, teaching
from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
from cqc_research.io.nhs import load_gp_payments
from cqc_research.link import link_indicators
from cqc_research.metrics.prediction import cross_validated_prediction, ordered_logit
from cqc_research.plots.prediction import (confusion_matrix_plot, indicator_by_rating,
                                           odds_ratio_plot)

plots.set_theme()
ws = teaching.start(data_dir)
wide = ratings_wide(load_latest_ratings(ws.paths["ratings_ods"]), level="location")

# %% [markdown]
# ## 1. Link ratings to indicators
#
# A GP practice's CQC location carries its ODS code, the same code NHS Digital uses for the
# practice in the payments file. `link_indicators` joins on it and reports what did and did not
# match (closed practices, codes CQC does not know).
#
# We use one year of payments for every practice (`window="latest"`). That is fine for a
# cross-sectional question, but it can use data from *after* a rating was published; the
# default (`window="last"`) only uses a year that ended before publication.

# %%
indicators = teaching.GP_INDICATORS
print("indicators:", ", ".join(indicators))
payments = load_gp_payments(ws.gp_payments_path)
link = link_indicators(wide, payments, level="practice", measures=indicators, window="latest")
gp = link.data.dropna(subset=["Overall", *indicators]).reset_index(drop=True)
print(f"{len(gp):,} practices have an Overall rating and every indicator")
link

# %% [markdown]
# How do the indicators differ by rating? Overlapping boxes mean an indicator hardly separates
# the ratings.

# %%
fig = indicator_by_rating(gp, "Overall", indicators, title="Payments measures by Overall rating")

# %% [markdown]
# ### Exercise 3.1
#
# Before fitting anything: what share of these practices have the **commonest** rating? That is
# the accuracy of a "model" that always guesses that rating: the **modal-class baseline**.

# %% tags=["exercise"]
modal_share = ...  # your answer: a share between 0 and 1

# %% tags=["solution"]
mix = gp["Overall"].value_counts(normalize=True)
print(mix.round(3).to_string())
modal_share = mix.max()
modal_share

# %%
teaching.check_modal_share(modal_share)

# %% [markdown]
# ## 2. Predict, honestly
#
# `cross_validated_prediction` splits the practices into 5 folds. Each fold is predicted by a
# model fitted on the *other four* only, so every prediction is for a practice the model never
# saw. The result shows the accuracy beside the baseline, the weighted kappa and the confusion
# matrix.

# %%
cv = cross_validated_prediction(gp, rating="Overall", indicators=indicators, folds=5, seed=0)
cv

# %% [markdown]
# ### Exercise 3.2
#
# What is the model's **cross-validated accuracy** (the share of practices whose predicted
# rating is their actual rating)? It is in `cv.summary`.

# %% tags=["exercise"]
accuracy = ...  # your answer: a share between 0 and 1

# %% tags=["solution"]
accuracy = cv.summary["accuracy"].iloc[0]
print(f"model {accuracy:.1%} against the baseline {cv.summary['modal_share'].iloc[0]:.1%}")
accuracy

# %%
teaching.check_cv_accuracy(accuracy)

# %% [markdown]
# ### Exercise 3.3
#
# What is the cross-validated **weighted kappa** of the predictions? Compare it with the accuracy.

# %% tags=["exercise"]
cv_kappa = ...  # your answer: a number between -1 and 1

# %% tags=["solution"]
cv_kappa = cv.summary["weighted_kappa"].iloc[0]
cv.summary[["accuracy", "modal_share", "weighted_kappa", "weighted_kappa_ci_low",
            "weighted_kappa_ci_high"]].round(3)

# %%
teaching.check_cv_kappa(cv_kappa)

# %% [markdown]
# Where do the predictions go? Rows are the actual ratings, columns the predicted ones.

# %%
fig = confusion_matrix_plot(cv.confusion, title="Cross-validated predictions (share of each row)")

# %% [markdown]
# ## 3. Is there a signal at all?
#
# A model can be useless for *predicting* individual ratings and still show that an indicator is
# *associated* with them. The ordered logit's **odds ratio per standard deviation** says how the
# odds of a better rating change for a practice one standard deviation higher on an indicator
# (1 = no association).

# %%
odds = ordered_logit(gp, rating="Overall", indicators=indicators)
fig = odds_ratio_plot(odds, title="Odds of a better rating, per SD (95% CI)")
odds[["indicator", "n", "odds_ratio_per_sd", "ci_low", "ci_high", "p_value"]].round(3)

# %% [markdown]
# ### Exercise 3.4
#
# What is the odds ratio per standard deviation of **QOF payments per patient**
# (`qof_payments_per_patient`)?

# %% tags=["exercise"]
odds_ratio = ...  # your answer: a positive number

# %% tags=["solution"]
odds_ratio = odds.set_index("indicator").loc["qof_payments_per_patient", "odds_ratio_per_sd"]
print(f"coefficient {np.log(odds_ratio):.3f} on the log-odds scale")
odds_ratio

# %%
teaching.check_odds_ratio(odds_ratio)

# %% [markdown]
# ## To discuss
#
# - A model can be right most of the time and still be no better than guessing. What would you
#   report instead of accuracy alone, and why do kappa and the baseline belong beside it?
# - The planted effect is real but weak. With how many practices would you expect to detect it?
#   (The study above had 6,860.)
# - An indicator that predicts ratings might do so because inspectors look at it. Does that make it
#   a good measure of quality?
#
# **Next:** session 4 follows services over time: what happens after a poor rating?
