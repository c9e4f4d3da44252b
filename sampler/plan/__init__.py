"""The optimiser: problem, candidate sites, slots, min-cost flow, bound, packing, repair, home visits, summary, planning in parts."""
