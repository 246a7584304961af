"""``python -m peakday`` runs the ``peakday`` command (used where no script is installed)."""

from peakday.cli import app

app()
