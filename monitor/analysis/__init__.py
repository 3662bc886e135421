"""Risk views over a whole book (pure: no I/O): liquidation ladder, stress curve, margin-mode
what-if. Shared by the CLI today and by the API and bot later; all margin math comes from
``monitor.health.account``."""
