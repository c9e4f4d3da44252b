"""What-if staffing: levels, jobs, the minimum-staff search and its outputs."""
