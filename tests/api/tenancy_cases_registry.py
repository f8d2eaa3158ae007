"""Tenancy cases for every domain's object routes (see tenancy_cases.py)."""

from __future__ import annotations
