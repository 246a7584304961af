"""The results layer: what a run measured, as the files and words people and scripts read.

The model returns typed records (:mod:`sim.model.outcomes`, an ``Observation`` per
replication); this package turns them into the results contract and judges them:

- :mod:`.summary` and :mod:`.sections`: ``summary.json`` figures and the minute series
  (means with intervals at the scenario's ``sizing.confidence``);
- :mod:`.slo` the verdict hour by hour, :mod:`.findings` what the day means for sales;
- :mod:`.compare` the model's prediction of a drill set beside the drill, :mod:`.compare_runs`
  several runs side by side (``peakday compare``);
- :mod:`.folders` writing and reading ``results/<run>/`` (atomically, never over a user's files).

Rendering for people (terminal and report) lives in :mod:`sim.report`.
"""
