"""Interactive voice response: flows that decide, a driver that does.

A flow is a generator that yields :mod:`callcenter.ivr.commands` and receives each command's
result; :mod:`callcenter.ivr.agi_driver` carries them out over a FastAGI session, and tests run
the same flows from scripted results with no Asterisk at all.
"""
