"""``python -m shared.report [--check]``."""

from shared.report.tables import main

raise SystemExit(main())
