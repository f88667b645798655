"""The engine: the job runner, the agent loop, tool execution, prompts and the event bus.

:mod:`.api` is the entry point (:func:`runtime.engine.api.run`); everything else here is
what it drives. Nothing in this package renders anything: events leave through the bus.
"""
