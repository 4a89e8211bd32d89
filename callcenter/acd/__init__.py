"""Automatic call distribution: agents, queues, strategies; a pure core and its adapters."""
