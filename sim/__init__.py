"""Simulate a sampling day: replay a plan with real-world noise and check the window target."""
