"""Simulate a sampling day: replay a plan with real-world noise and check the window target.

Public API: `simulate(scenario, registry, plan, params, seed, replications, executor, progress)`
returns a `SimResult` (``.summary()``, ``.records``, ``.sites()``, ``.coverage()``,
``.verdict()``); `sim_params(scenario)` reads the ``sim`` section of a scenario.
"""

from sim.params import SimParams, sim_params
from sim.replicate import Executor, ProcessExecutor, SerialExecutor, SimResult, simulate

__all__ = ["Executor", "ProcessExecutor", "SerialExecutor", "SimParams", "SimResult", "sim_params", "simulate"]
