"""``python -m syncengine`` runs the pysync command line."""

from .cli import console

console()
