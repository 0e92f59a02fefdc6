"""Tests of the judges area."""
