"""The pure core: records and rules, no SDK, no network, no threads or processes."""
