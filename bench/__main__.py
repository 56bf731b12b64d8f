"""``python -m bench``: run the pysync vs rclone benchmark (see ``python -m bench --help``)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
