"""Synthèse: turn webinar replays into published syntheses organised by theme."""

__version__ = "0.1.0"
