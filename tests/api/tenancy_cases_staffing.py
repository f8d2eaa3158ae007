"""Tenancy cases for the staffing routes (mobile_api/staffing/): one block per router module.

Builders make a complete staffing world inside one organization (an HQ or a franchise): a corporate client, a
site, an order with its shifts, a worker of the organization's pool with an offer. The walk swaps each id for a
stranger's in turn (see tenancy_cases.py).
"""

from __future__ import annotations

# --- st-core: offers, shifts, availability, clients, sites, orders, dispatch, solver runs -----------------------

# --- st-ops: check-in/out, attendance, earnings, rating, board, exports ---------------------------------------
