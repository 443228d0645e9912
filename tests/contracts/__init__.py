"""Contract suites: one set of behavioural tests run against every implementation of a port."""
