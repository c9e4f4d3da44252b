"""What-if staffing: params (the ``whatif`` section), axes (ranges), levels (staffings and applying them),
jobs (plan and replication jobs on an executor, `WhatifRun`), search (minimum staffing, minus one), output."""
