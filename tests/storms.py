"""How many rounds each concurrency storm on PostgreSQL repeats.

The issues fix the storms' sizes and rounds (200 accepts for 15 places and 50 bookings for one slot, 20 rounds
each): that is the default, so a developer's PostgreSQL run, and ``make races``, prove them as written. CI's
PostgreSQL leg sets ``BRIGADA_STORM_ROUNDS`` lower to stay inside its time budget: every round is a full storm of
the same size with the same checks, only fewer of them (ADR 0034).
"""

from __future__ import annotations

import os

STORM_ROUNDS = int(os.environ.get("BRIGADA_STORM_ROUNDS", "20"))
