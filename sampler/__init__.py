"""Plan mass nucleic-acid sampling: every household to a site and time slot, or a home visit.

The shared vocabulary lives at the top (errors, params, model, executors); the subpackages are
io (files), registry (reading and generating registries), plan (the optimiser), planfiles (the plan
directory's schema, writer and reader), notify (SMS and notices), roster (staff rosters) and
commands (the planning commands of the CLI). Nothing is imported here, so that `sampler --help`
starts without loading numpy or OR-Tools.
"""

__version__ = "0.1.0"
