"""Flowbot's domain and flow runtime: no UI code lives here."""
