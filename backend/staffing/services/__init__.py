"""Staffing services, one module per rule: ``pool`` (workers, statuses, availability), ``orders`` (clients, sites,
orders and their shifts), ``dispatch`` (solver runs through the adapter and the plan turned into offers),
``offers`` (sending, first-come acceptance, declines, expiry, standby) and ``confirmations`` (the day-before
ladder and the incremental re-plan). Attendance, reliability and money live beside them."""
