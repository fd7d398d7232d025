"""The edge: a range-request cache server for encoded video.

A request's way through the edge: path -> object key (or 400) -> token check -> object
metadata (store, or learned from the origin's first slice) -> preconditions and ranges
(pure: what to send) -> slices covering them (pure arithmetic) -> per slice, a hit is an
open file and a miss joins or starts the one fill for it -> bytes out -> the policy
records the access and decides admission and eviction.
"""
