"""``python -m connectors``: the connector supervisor and its pool API."""

from connectors.service import main

raise SystemExit(main())
