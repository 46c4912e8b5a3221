// Metrics against the exact distribution live here.
