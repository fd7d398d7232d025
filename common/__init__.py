"""What the services share, kept small: config, sizes, logging, URL tokens, /status."""
