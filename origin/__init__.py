"""Access to the origin: S3 (boto3, off the event loop), an HTTP parent, and the
embedded S3-compatible server. Imports nothing of ours but `common`."""
