"""Tests of the subtitles area."""
