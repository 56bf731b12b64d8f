"""``python -m syncengine`` runs the pysync command line."""

from .cli import console

if __name__ == "__main__":  # not again in a spawned child (Dask's local worker processes)
    console()
