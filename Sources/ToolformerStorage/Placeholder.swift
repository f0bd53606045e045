// The on-disk cache tier arrives with the cache issue.
