"""Every layer's scenario sections, registered with `sampler.params` by the composition roots.

`sampler.params` checks the planning core and the planning components' sections (``sms``,
``notices``, ``roster``) by itself; a layer above registers its own. The console script
(`api.cli.build_app`), the service (`api.main.create_app`) and the service's job workers (separate
processes: `api.jobs.restore_scenario`) call `register_all` before reading any scenario, so that
`sampler validate`, `sampler plan`, the upload and a job accept and check the same sections. A
program that reads scenarios with the simulator's sections (a benchmark, a script) calls it too;
without it such a file fails with "unknown section", never passes unchecked.
"""

from __future__ import annotations

__all__ = ["register_all"]


def register_all() -> None:
    """Register the sections of every layer above `sampler` (idempotent; imports only `sim.params`)."""
    from sim.params import register_sim_sections

    register_sim_sections()
