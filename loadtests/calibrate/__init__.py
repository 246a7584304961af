"""Calibration: a step load against the target, and a model of it fitted from what it showed.

``profile`` (the steps, as drill overrides), ``steps`` (running them: real Locust drills, the
target's CPU read around each), ``fit`` (demands, concurrency, outside time by the operational
laws), ``outputs`` (calibration.yaml, calibration.json, the figure), ``launch`` (the command's
checks and flow), ``cli`` (``peakday calibrate``).
"""
