# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 Churn, RFM and lifetime value
#
# Churn flags with `method="auto"`: every rule is back-tested on this business's own earlier history and the
# winner is applied. Then RFM segments, the Pareto/NBD model's checks, P(alive) and discounted CLV.

# %%
from analytics import churn_flags, plots, purchases, reports, rfm
from analytics.cohorts import default_as_of
from analytics.rfm import segment_summary

con = reports.open_warehouse()
visits = reports.business_visits(con)  # the business with the most visits; organization_id=... for another

# %% [markdown]
# Who will not come back in the next 13 weeks, and which rule said so (with its back-test beside the
# majority-class baseline).

# %%
churn = churn_flags(purchases(visits), method="auto")
print(churn)

# %%
churn.choice.table

# %% [markdown]
# RFM segments (recency, frequency, monetary scores 1-5).

# %%
segment_summary(rfm(visits, as_of=default_as_of(visits)))

# %% [markdown]
# Model checks: Pareto/NBD fitted on the history before the last 90 days. Calibration: customers by repeat
# purchases, actual vs expected. Holdout: purchases in the last 90 days per calibration frequency, actual vs
# predicted.

# %%
check = reports.model_check(visits, model="pareto", holdout_days=90)
print(check)
plots.calibration_fit(check.calibration);

# %%
plots.holdout_fit(check.holdout);

# %% [markdown]
# P(alive) and 12-month CLV, discounted at 10 % a year (Pareto/NBD purchases, Gamma-Gamma spend).

# %%
value = reports.clv_report(visits, model="pareto", horizon_months=12, discount_rate=0.10)
plots.p_alive_histogram(value["p_alive"]);

# %%
plots.clv_histogram(value["clv"]);

# %%
value.head(10)
