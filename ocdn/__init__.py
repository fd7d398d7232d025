"""The face of ocdn: the `ocdn` command line and `ocdn demo`."""
