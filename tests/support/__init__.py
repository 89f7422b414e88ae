"""Support code shared by the tests and the benchmarks: free loopback ports, the feed farm, and
waiting on a condition with a deadline."""
