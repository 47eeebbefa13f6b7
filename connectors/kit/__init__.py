"""What every connector shares: action registry, errors, breaker, event forwarding."""
