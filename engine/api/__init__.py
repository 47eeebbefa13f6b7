"""HTTP API mounted into the Reflex backend: health now; webhooks, REST and SSE later."""
