"""perpwatch monitor: health, alert rules, notifiers, scheduler and the CLI."""
