"""Alert channels: one module per kind; ``monitor.notify.channels`` lists them all."""
