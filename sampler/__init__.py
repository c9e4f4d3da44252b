"""Plan mass nucleic-acid sampling: every household to a site and time slot, or a home visit."""

from sampler.errors import InputError, InputIssue
from sampler.model import Registry, RiskZone, Site
from sampler.params import Scenario, load_scenario

__all__ = ["InputError", "InputIssue", "Registry", "RiskZone", "Scenario", "Site", "load_scenario"]
__version__ = "0.1.0"
