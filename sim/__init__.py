"""Simulate a sampling day: replay a plan with real-world noise and check the window target.

`sim.replicate.simulate(scenario, registry, plan, params, seed, replications, executor, progress)`
(a plan directory or stored plan) or `sim.replicate.replicate(sim.inputs.from_plan(plan), ...)`
(a `Plan` in memory) returns a `SimResult` (``.summary()``, ``.records``, ``.sites()``,
``.coverage()``, ``.verdict()``); `sim.params.sim_params(scenario)` reads the ``sim`` section of a
scenario. `sim.whatif` sweeps staff levels; `sim.commands` holds the CLI commands. Nothing is
imported here (a fast `sampler --help`).
"""
