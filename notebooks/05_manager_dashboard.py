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
# # 05 Manager's dashboard
#
# The last 30 days against the 30 before, revenue by month, staff load and review scores.

# %%
from analytics import plots, reports
from analytics.kpis import revenue_by, review_scores, staff_load

con = reports.open_warehouse()
visits = reports.business_visits(con)  # the business with the most visits; organization_id=... for another

# %%
reports.headline(visits, con.table("shifts"), con.table("offers"), con.table("attendance"), days=30)

# %%
plots.trend(revenue_by(visits, period="month"), y="revenue", title="Revenue per month");

# %%
revenue_by(visits, by=["branch_id"], period=None)

# %% [markdown]
# Staff load: booked minutes ÷ rostered minutes per staff member and month.

# %%
staff_load(visits, con.table("staff_schedule"), period="month")

# %%
review_scores(con.table("reviews"), by=["staff_id"]).sort("mean_score")
