"""Reference fraud detectors and the features they read: the scorecard's measure of how hard the data is."""
