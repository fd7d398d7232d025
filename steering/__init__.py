"""Steering: every player gets a ranked list of signed edge URLs.

A request's way through steering: the client address (the peer, or the first
X-Forwarded-For hop from a trusted proxy: `clientaddr`) -> its longest matching prefix
and that prefix's sites (`prefixes`, `topology`, read by `topofile`) -> every other site
after them, nearest first -> in each site the usable edges by health tier (`health`,
fed by `poller`), ranked by rendezvous hash of the content key and widened for hot keys
(`ranking`, `hotness`) -> at least 3 edges over 2 sites (`steer`) -> signed URLs
(`urls`, over `common.tokens`) -> JSON, a 302 or a content-steering manifest (`server`,
`contentsteering`) over the services' HTTP server (`common.http`), with one decision log line
(`decisionlog`) and metrics (`metrics`). `service` holds the state between requests,
`reload` swaps topology and keys on SIGHUP or change, `cli` wires it all up.
"""
