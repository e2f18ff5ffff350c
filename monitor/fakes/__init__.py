"""Local fake platforms: real HTTP servers on 127.0.0.1 that speak each platform's wire format.

The test suite and ``monitor demo`` both use them; nothing here reaches the network.
"""
