"""``python -m loadtests`` runs the ``peakday`` command (used where no script is installed)."""

from loadtests.cli import app

app()
