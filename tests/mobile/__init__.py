"""Tests of the phone-facing compositions: home screen, delta sync, ETags."""
