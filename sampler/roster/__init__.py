"""Staff rosters: rules, the CP-SAT model, the roster directory."""
