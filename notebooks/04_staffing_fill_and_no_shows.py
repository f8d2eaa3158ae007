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
# # 04 Staffing: fill rate and no-shows
#
# How well call-ups fill shifts, who fails to turn up, and what the call-up solver buys over the flat
# "call r × headcount" rule.

# %%
from analytics import plots, reports
from analytics.frontier import solver_vs_flat
from analytics.staffing import fill_rate, fill_rate_frontier, no_show_rates

con = reports.open_warehouse()
shifts, offers, attendance = con.table("shifts"), con.table("offers"), con.table("attendance")

# %%
fill_rate(shifts, offers, attendance, by="weekday")

# %% [markdown]
# No-show rate by worker segment and by how long before the shift the worker said yes.

# %%
no_show_rates(shifts, offers, attendance, con.table("workers"), by="segment")

# %%
no_show_rates(shifts, offers, attendance, by="lead_time")

# %% [markdown]
# What our call-up waves bought: fill rate against call-ups sent per needed place, after each wave.

# %%
plots.fill_rate_frontier(fill_rate_frontier(shifts, offers), title="Fill rate after each call-up wave");

# %% [markdown]
# The solver against the flat rule on a generated city day (hidden true show rates; each point is one plan):
# the solver's sweep of shortfall-to-idle costs traces its frontier, the flat rule's ratios sit below it.

# %%
points = solver_vs_flat(workers=400, shifts=40, seed=1)
plots.solver_frontier(points);
