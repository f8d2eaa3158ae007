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
# # 01 Clients and cohorts
#
# Who comes, from where, and how many come back. The warehouse folder is `$BRIGADA_WAREHOUSE`, else
# `notebooks/warehouse` (`make export-warehouse` writes it).

# %%
from analytics import cohort_retention, plots, reports
from analytics.kpis import client_flow, source_effectiveness

con = reports.open_warehouse()
visits = reports.business_visits(con)  # the business with the most visits; organization_id=... for another

# %% [markdown]
# New, returning and lost clients per month (lost: 90 days without a visit).

# %%
client_flow(visits, period="month")

# %% [markdown]
# Acquisition sources: clients, revenue per client and 90-day retention.

# %%
source_effectiveness(visits, con.table("clients"))

# %% [markdown]
# Monthly cohorts: the share of each month's new clients who visit again in later months.

# %%
cohorts = cohort_retention(visits, period="month")
plots.cohort_heatmap(cohorts);
