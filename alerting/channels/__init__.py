"""Alert channels: one module per service, all with the ``Channel`` shape of ``base``."""
