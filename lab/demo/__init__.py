"""``netmon demo``: a simulated province going live, on one machine (issue #7).

Modules: ``plan`` (communes, site configs, central config), ``stack`` (starting and stopping
every process), ``scenario`` (the timed go-live story), ``observe`` (polling the collector's
API), ``view`` (the live terminal view), ``summary`` (the end report and output files),
``run`` (orchestration, signals, cleanup).
"""
