"""Site side: the probe agent's measurements and runtime. Everything here runs at the commune."""
