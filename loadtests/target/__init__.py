"""The reference checkout service: a real HTTP target for drills, tests and calibration."""
