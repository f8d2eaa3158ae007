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
# # 02 ABC / XYZ
#
# ABC: which services (and clients) bring 80 % / 95 % of revenue. XYZ: how steady their monthly demand is
# (coefficient of variation under 10 % / 25 %).

# %%
from analytics import abc_analysis, abc_xyz, plots, reports

con = reports.open_warehouse()
visits = reports.business_visits(con)  # the business with the most visits; organization_id=... for another

# %%
services = abc_analysis(visits, by="service")
plots.abc_pareto(services, title="Services: cumulative share of revenue");

# %%
clients = abc_analysis(visits, by="client")
plots.abc_pareto(clients, title="Clients: cumulative share of revenue");

# %% [markdown]
# The ABC × XYZ matrix of services: AX items are the dependable core, CZ the long tail.

# %%
per_service, matrix = abc_xyz(visits, by="service")
matrix
