"""Periodic background work in one place: named tasks run by whichever process holds the leader lease.

Every process that runs workers runs a Scheduler; with several processes on one database, the lease
(`leases` row `scheduler`) elects one leader at a time, which runs each task when its interval has
passed since its last run by any process (`scheduler_runs`). A leader that dies stops renewing, and
another process takes over once the lease expires. Tasks live one per file in this package.
"""
